"""Presigned S3 requests for a bearer-token caller (the console's uploads, downloads and
shared links): POST /buckets/{bucket}/presign {"operation", "key", ...}.

The URL is signed with the caller's own access key (the one its token was issued for),
so the S3 door checks it as it checks any presigned URL of that key: deactivating the
key or changing its secret kills every URL signed with it. A caller signed in by single
sign-on has no key of its own: its URLs are signed with a temporary session's, and live
at most as long as a session. Nothing is signed that the policy function refuses now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from api.auth import required_principal
from api.blocking import blocking
from api.context import system_of
from api.native.access import allow
from api.native.common import json_body, json_response, text_field
from api.native.errors import MalformedRequest
from api.s3 import sigv4
from api.sessions import MAX_SECONDS as SESSION_MAX_SECONDS
from api.sessions import MIN_SECONDS as SESSION_MIN_SECONDS
from api.sessions import open_session
from api.system import System
from domain.access import SSO_KEY_PREFIX, Action, Principal
from domain.application import BucketInfo
from domain.errors import NoSuchKey, NoSuchVersion
from domain.names import validate_object_key

MAX_SECONDS = 7 * 24 * 3600  # as long as S3 lets a presigned URL live
DEFAULT_SECONDS = 3600
MAX_PARTS = 10_000
MAX_UPLOAD_ID_CHARS = 256


@dataclass(frozen=True)
class Operation:
    method: str
    iam_action: str
    subresources: tuple[str, ...]  # the query parameters the operation names


OPERATIONS = {
    "get": Operation("GET", "s3:GetObject", ()),
    "put": Operation("PUT", "s3:PutObject", ()),
    "create_upload": Operation("POST", "s3:PutObject", ("uploads",)),
    "upload_part": Operation("PUT", "s3:PutObject", ("partNumber", "uploadId")),
    "complete_upload": Operation("POST", "s3:PutObject", ("uploadId",)),
    "abort_upload": Operation("DELETE", "s3:AbortMultipartUpload", ("uploadId",)),
}


def _expires(body: dict[str, Any]) -> int:
    seconds = body.get("expires_seconds", DEFAULT_SECONDS)
    if not isinstance(seconds, int) or isinstance(seconds, bool) \
            or not 1 <= seconds <= MAX_SECONDS:
        raise MalformedRequest(f"expires_seconds must be a whole number from 1 to {MAX_SECONDS}")
    return seconds


def _upload_id(body: dict[str, Any]) -> str:
    upload_id = text_field(body, "upload_id", "")
    if not upload_id or len(upload_id) > MAX_UPLOAD_ID_CHARS or not upload_id.isprintable():
        raise MalformedRequest("upload_id must name a multipart upload (the UploadId S3 "
                               "answered when it began)")
    return upload_id


def _query(name: str, body: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[str, str]] = []
    if name == "create_upload":
        pairs.append(("uploads", ""))
    if name == "upload_part":
        part = body.get("part_number")
        if not isinstance(part, int) or isinstance(part, bool) or not 1 <= part <= MAX_PARTS:
            raise MalformedRequest(f"part_number must be 1 to {MAX_PARTS}")
        pairs.append(("partNumber", str(part)))
    if name in ("upload_part", "complete_upload", "abort_upload"):
        pairs.append(("uploadId", _upload_id(body)))
    if name == "get":
        version_id = text_field(body, "version_id", "")
        if version_id:
            if len(version_id) > MAX_UPLOAD_ID_CHARS or not version_id.isprintable():
                raise MalformedRequest("version_id must name a version of the object")
            pairs.append(("versionId", version_id))
        if body.get("download") is True:  # the browser saves it under the key's last part
            filename = text_field(body, "key").rsplit("/", 1)[-1]
            pairs.append(("response-content-disposition", _attachment(filename)))
    return tuple(pairs)


def _attachment(filename: str) -> str:
    return f"attachment; filename*=UTF-8''{quote(filename, safe='')}"


def _authorize(request: Request, system: System, principal: Principal, info: BucketInfo,
               name: str, key: str, version_id: str) -> None:
    operation = OPERATIONS[name]
    if name != "get":
        allow(request, principal, Action.WRITE_OBJECTS, info, key=key,
              iam_action=operation.iam_action)
        return
    try:
        found = system.store.get_object(info.name, key, version_id or None)
    except (NoSuchKey, NoSuchVersion):
        allow(request, principal, Action.LIST_BUCKET, info)  # tell only who may list
        raise
    allow(request, principal, Action.READ_OBJECT, info, found.version["acl"], key=key,
          version=found.version,
          iam_action="s3:GetObjectVersion" if version_id else "s3:GetObject")


def _credentials(system: System, principal: Principal, expires: int) -> sigv4.Credentials:
    if not principal.access_key.startswith(SSO_KEY_PREFIX):
        stored = system.store.credentials(principal.access_key)
        return sigv4.Credentials(principal.access_key,
                                 system.secret_box.decrypt(stored.secret_ciphertext))
    session = open_session(system, principal, max(SESSION_MIN_SECONDS, expires))
    return sigv4.Credentials(session.access_key, session.secret_key, session.token)


def s3_base_url(request: Request, system: System) -> str:
    """Where browsers reach the S3 door: the configured public URL, else the host the
    caller reached this door by, on the S3 door's port."""
    settings = system.settings
    if settings.s3_public_url:
        return settings.s3_public_url
    host = request.url.hostname or settings.host
    if ":" in host:
        host = f"[{host}]"
    return f"{request.url.scheme}://{host}:{settings.s3_port}"


async def presign(request: Request) -> Response:
    system = system_of(request)
    principal = required_principal(request)
    bucket = request.path_params["bucket"]
    body = await json_body(request, limit=16 * 1024)
    name = text_field(body, "operation")
    if name not in OPERATIONS:
        raise MalformedRequest(f"operation must be one of {', '.join(OPERATIONS)}")
    key = text_field(body, "key")
    validate_object_key(key)
    expires = _expires(body)
    query = _query(name, body)
    info = await blocking(system.store.get_bucket, bucket)
    await blocking(_authorize, request, system, principal, info, name, key,
                   dict(query).get("versionId", ""))
    if principal.access_key.startswith(SSO_KEY_PREFIX):  # no longer than its session
        expires = min(expires, SESSION_MAX_SECONDS)
    credentials = await blocking(_credentials, system, principal, expires)
    base = s3_base_url(request, system)
    host = base.split("://", 1)[1]
    path = f"/{bucket}/{key}"
    method = OPERATIONS[name].method
    moment = datetime.now(UTC)
    signed = sigv4.presigned_query(
        sigv4.HttpRequest(method, path, query, {"host": host}), credentials,
        system.settings.region, moment.strftime("%Y%m%dT%H%M%SZ"), expires)
    return json_response({
        "url": base + sigv4.encoded_target(path, signed),
        "method": method,
        "expires_at": datetime.fromtimestamp(moment.timestamp() + expires, UTC).isoformat(),
    })
