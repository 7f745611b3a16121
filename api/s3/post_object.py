"""Browser form uploads: `POST /{bucket}` with multipart/form-data and a signed POST
policy (SigV4 or V2), the file field last and streamed like any upload (issue 24)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from urllib.parse import quote, urlencode, urlsplit

from starlette.responses import Response

from api.blocking import blocking
from api.ingest import ingest
from api.operations import KEPT_HEADERS, new_version, record_version
from api.s3 import sigv2, sigv4
from api.s3.auth import Caller, check_scope, principal_of
from api.s3.common import Call
from api.s3.errors import EntityTooLarge, InvalidRequest, SignatureDoesNotMatch
from api.s3.form import read_form
from api.s3.objects import MAX_PUT_BYTES
from api.s3.tagging import tags_from_xml
from api.s3.xml import xml_response
from domain.access import CANNED_ACLS, Action, Principal, canned_acl
from domain.errors import EntityTooSmall, InvalidArgument
from domain.names import validate_object_key
from domain.post_policy import PostPolicy, check_form, parse_post_policy
from domain.records import check_representation, check_user_metadata
from domain.tags import MAX_OBJECT_TAGS

META_PREFIX = "x-amz-meta-"


def _signed_by(call: Call, fields: dict[str, str]) -> tuple[Principal | None, str]:
    """Who signed the form's policy (None: an anonymous form), and how."""
    if "x-amz-signature" in fields:
        if fields.get("x-amz-algorithm") != sigv4.ALGORITHM:
            raise InvalidRequest("x-amz-algorithm must be AWS4-HMAC-SHA256")
        scope = sigv4.parse_credential(fields.get("x-amz-credential", "")[:512])
        check_scope(scope, fields.get("x-amz-date", "")[:32], call.system.settings.region,
                    InvalidRequest)
        principal, secret = principal_of(call.system, scope.access_key,
                                         fields.get("x-amz-security-token"))
        expected = sigv4.sign(sigv4.signing_key(secret, scope), fields.get("policy", ""))
        signature_version = sigv4.ALGORITHM
    elif "signature" in fields and "awsaccesskeyid" in fields:
        principal, secret = principal_of(call.system, fields["awsaccesskeyid"][:128],
                                         fields.get("x-amz-security-token"))
        expected = sigv2.sign(secret, fields.get("policy", ""))
        signature_version = "AWS"
    else:
        return None, ""
    given = fields.get("x-amz-signature", fields.get("signature", ""))
    if not sigv4.signatures_match(expected, given[:256]):
        raise SignatureDoesNotMatch("The request signature we calculated does not match the "
                                    "signature you provided. Check your key and signing "
                                    "method.")
    return principal, signature_version


async def _bounded(stream: AsyncIterator[bytes], policy: PostPolicy | None
                   ) -> AsyncIterator[bytes]:
    low, high = policy.length_range if policy and policy.length_range else (0, MAX_PUT_BYTES)
    high = min(high, MAX_PUT_BYTES)
    seen = 0
    async for piece in stream:
        seen += len(piece)
        if seen > high:
            raise EntityTooLarge("Your proposed upload exceeds the maximum allowed size",
                                 max_size=high)
        yield piece
    if seen < low:
        raise EntityTooSmall("Your proposed upload is smaller than the minimum allowed size",
                             min_size=low)


def _answer(call: Call, fields: dict[str, str], key: str, etag: str) -> Response:
    location = f"{call.request.base_url}{quote(call.bucket)}/{quote(key)}"
    redirect = fields.get("success_action_redirect") or fields.get("redirect")
    if redirect and urlsplit(redirect).scheme in ("http", "https"):
        query = urlencode({"bucket": call.bucket, "key": key, "etag": f'"{etag}"'})
        joiner = "&" if "?" in redirect else "?"
        return Response(status_code=303, headers={"location": f"{redirect}{joiner}{query}",
                                                  "etag": f'"{etag}"'})
    status = fields.get("success_action_status", "204")
    headers = {"etag": f'"{etag}"', "location": location}
    if status == "201":
        answer = xml_response("PostResponse", [("Location", location), ("Bucket", call.bucket),
                                               ("Key", key), ("ETag", f'"{etag}"')], headers)
        answer.status_code = 201
        return answer
    return Response(status_code=200 if status == "200" else 204, headers=headers)


async def post_object(call: Call) -> Response:
    info = await call.bucket_info()
    form = await read_form(call.request.stream(), call.header("content-type") or "")
    fields = form.fields
    if "key" not in fields:
        raise InvalidArgument("Bucket POST must contain a field named 'key'.  If it is "
                              "specified, please check the order of the fields.")
    key = fields["key"].replace("${filename}", form.filename)
    validate_object_key(key)
    principal, signature_version = await blocking(_signed_by, call, fields)
    policy = None
    if principal is not None:
        if "policy" not in fields:
            raise InvalidArgument("Bucket POST must contain a field named 'policy' when it "
                                  "is signed")
        policy = parse_post_policy(fields["policy"])
        check_form(policy, {**fields, "key": key, "bucket": call.bucket}, call.now)
    poster = dataclasses.replace(call, caller=Caller(principal, sigv4.UNSIGNED_PAYLOAD, None,
                                                     signature_version, "POST"))
    poster.authorize(info, Action.WRITE_OBJECTS, key=key, iam_action="s3:PutObject")
    owner = principal.user if principal else info.owner
    acl_name = fields.get("acl", "private")
    if acl_name not in CANNED_ACLS:
        raise InvalidArgument(f"Unknown canned ACL {acl_name[:32]!r}")
    acl = canned_acl(acl_name, owner)
    content_type = fields.get("content-type") or form.content_type or \
        "application/octet-stream"
    headers = {h: fields[h] for h in KEPT_HEADERS if h in fields}
    metadata = {k[len(META_PREFIX):]: v for k, v in fields.items() if k.startswith(META_PREFIX)}
    check_user_metadata(metadata)
    check_representation(content_type, headers)
    tags = tags_from_xml(fields["tagging"].encode(), MAX_OBJECT_TAGS) \
        if fields.get("tagging") else {}
    content = await ingest(_bounded(form.file, policy), call.system.blobs,
                           call.system.settings.chunk_size, None)
    version = new_version(content, owner, acl, call.now, content_type, headers, metadata)
    if tags:
        version["tags"] = tags
    result = await blocking(record_version, call.system, call.bucket, key, version,
                            poster.meta, call.now)
    return _answer(call, fields, key, result.version["etag"])
