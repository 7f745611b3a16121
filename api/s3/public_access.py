"""Put/Get/DeletePublicAccessBlock on a bucket (issue 24)."""

from __future__ import annotations

from starlette.responses import Response

from api.s3.bucket_settings import put_bucket_setting, remove_bucket_setting
from api.s3.common import Call
from api.s3.errors import MalformedXML, NoSuchConfiguration
from api.s3.xml import child_text, parse, xml_response
from domain.access import Action
from domain.public_access import SWITCHES, PublicAccessBlock


def _switch(text: str | None) -> bool:
    value = (text or "false").strip().lower()
    if value not in ("true", "false"):
        raise MalformedXML("Each public access block switch is true or false")
    return value == "true"


async def get_public_access_block(call: Call) -> Response:
    info = await call.bucket_info(Action.ADMINISTER_BUCKET)
    block = info.public_access_block
    if block is None:
        raise NoSuchConfiguration("The public access block configuration was not found",
                                  "NoSuchPublicAccessBlockConfiguration", bucket=call.bucket)
    return xml_response("PublicAccessBlockConfiguration",
                        [(name, bool(block[field]))  # type: ignore[literal-required]
                         for name, field in SWITCHES.items()])


def _block_from_xml(body: bytes) -> PublicAccessBlock:
    config = parse(body, "PublicAccessBlockConfiguration")
    return PublicAccessBlock(
        block_public_acls=_switch(child_text(config, "BlockPublicAcls")),
        ignore_public_acls=_switch(child_text(config, "IgnorePublicAcls")),
        block_public_policy=_switch(child_text(config, "BlockPublicPolicy")),
        restrict_public_buckets=_switch(child_text(config, "RestrictPublicBuckets")))


async def put_public_access_block(call: Call) -> Response:
    return await put_bucket_setting(call, call.system.store.set_public_access_block,
                                    _block_from_xml)


async def delete_public_access_block(call: Call) -> Response:
    return await remove_bucket_setting(call, call.system.store.set_public_access_block)