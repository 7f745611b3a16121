"""Put/Get/DeleteBucketPolicy and GetBucketPolicyStatus (issue 24)."""

from __future__ import annotations

from starlette.responses import Response

from api.s3.bucket_settings import put_bucket_setting, remove_bucket_setting
from api.s3.common import Call
from api.s3.errors import NoSuchConfiguration
from api.s3.xml import xml_response
from domain.access import Action, policy_of
from domain.errors import MalformedPolicy
from domain.policy import MAX_POLICY_BYTES


async def get_policy(call: Call) -> Response:
    info = await call.bucket_info(Action.ADMINISTER_BUCKET)
    if info.policy is None:
        raise NoSuchConfiguration("The bucket policy does not exist", "NoSuchBucketPolicy",
                                  bucket=call.bucket)
    return Response(info.policy, 200, media_type="application/json")


def _policy_text(body: bytes) -> str:
    if len(body) > MAX_POLICY_BYTES:
        raise MalformedPolicy(f"Policies must be at most {MAX_POLICY_BYTES} bytes")
    try:
        return body.decode()
    except UnicodeDecodeError:
        raise MalformedPolicy("Policies must be valid JSON (UTF-8)") from None


async def put_policy(call: Call) -> Response:
    return await put_bucket_setting(call, call.system.store.set_bucket_policy, _policy_text,
                                    204)


async def delete_policy(call: Call) -> Response:
    return await remove_bucket_setting(call, call.system.store.set_bucket_policy)


async def get_policy_status(call: Call) -> Response:
    info = await call.bucket_info(Action.ADMINISTER_BUCKET)
    policy = policy_of(info.policy, info.name)
    public = policy is not None and policy.is_public
    return xml_response("PolicyStatus", [("IsPublic", public)])
