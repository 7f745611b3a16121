"""Presigned S3 requests for a bearer-token caller (the console's uploads, downloads,
shared links and bucket settings): POST /buckets/{bucket}/presign {"operation", "key",
...} for an object, {"operation": "get_setting" | "put_setting" | "delete_setting",
"setting": "policy" | "cors" | ...} for a bucket's setting as an S3 document.

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
from api.native.access import allow, told_only_to_listers
from api.native.common import json_body, json_response, text_field
from api.native.errors import MalformedRequest
from api.s3 import sigv4
from api.sessions import MAX_SECONDS as SESSION_MAX_SECONDS
from api.sessions import MIN_SECONDS as SESSION_MIN_SECONDS
from api.sessions import open_session
from api.system import System
from domain.access import SSO_KEY_PREFIX, Action, Principal
from domain.application import BucketInfo
from domain.names import validate_object_key

MAX_SECONDS = 7 * 24 * 3600  # as long as S3 lets a presigned URL live
DEFAULT_SECONDS = 3600
MAX_PARTS = 10_000
MAX_UPLOAD_ID_CHARS = 256


# An object's operations: (method, IAM action).
OPERATIONS = {
    "get": ("GET", "s3:GetObject"),
    "put": ("PUT", "s3:PutObject"),
    "create_upload": ("POST", "s3:PutObject"),
    "upload_part": ("PUT", "s3:PutObject"),
    "complete_upload": ("POST", "s3:PutObject"),
    "abort_upload": ("DELETE", "s3:AbortMultipartUpload"),
}
# A bucket's settings, read, replaced and removed as S3 documents (the console's bucket
# settings): their IAM actions for each (None: S3 has no such call).
SETTINGS: dict[str, tuple[str, str, str | None]] = {
    "policy": ("s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"),
    "cors": ("s3:GetBucketCORS", "s3:PutBucketCORS", "s3:PutBucketCORS"),
    "lifecycle": ("s3:GetLifecycleConfiguration", "s3:PutLifecycleConfiguration",
                  "s3:PutLifecycleConfiguration"),
    "tagging": ("s3:GetBucketTagging", "s3:PutBucketTagging", "s3:PutBucketTagging"),
    "replication": ("s3:GetReplicationConfiguration", "s3:PutReplicationConfiguration",
                    "s3:PutReplicationConfiguration"),
    "object-lock": ("s3:GetBucketObjectLockConfiguration",
                    "s3:PutBucketObjectLockConfiguration", None),
    "encryption": ("s3:GetEncryptionConfiguration", "s3:PutEncryptionConfiguration",
                   "s3:PutEncryptionConfiguration"),
}
SETTING_OPERATIONS = {"get_setting": ("GET", 0), "put_setting": ("PUT", 1),
                      "delete_setting": ("DELETE", 2)}


@dataclass(frozen=True)
class Target:
    """What a presigned request will ask: its method, path, query, and the question the
    policy function must answer yes to first."""

    method: str
    key: str  # "" for the bucket itself
    query: tuple[tuple[str, str], ...]
    iam_action: str


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


def _setting_target(name: str, body: dict[str, Any]) -> Target:
    setting = text_field(body, "setting", "")
    if setting not in SETTINGS:
        raise MalformedRequest(f"setting must be one of {', '.join(SETTINGS)}")
    method, which = SETTING_OPERATIONS[name]
    iam_action = SETTINGS[setting][which]
    if iam_action is None:
        raise MalformedRequest(f"S3 has no call that removes a bucket's {setting} setting")
    return Target(method, "", ((setting, ""),), iam_action)


def _target(name: str, body: dict[str, Any]) -> Target:
    if name in SETTING_OPERATIONS:
        return _setting_target(name, body)
    if name not in OPERATIONS:
        raise MalformedRequest("operation must be one of "
                               f"{', '.join([*OPERATIONS, *SETTING_OPERATIONS])}")
    key = text_field(body, "key")
    validate_object_key(key)
    method, iam_action = OPERATIONS[name]
    query = _query(name, body)
    if "versionId" in dict(query):
        iam_action = "s3:GetObjectVersion"
    return Target(method, key, query, iam_action)


def _authorize(request: Request, system: System, principal: Principal, info: BucketInfo,
               target: Target) -> None:
    if not target.key:
        allow(request, principal, Action.ADMINISTER_BUCKET, info, iam_action=target.iam_action)
    elif target.method != "GET":
        allow(request, principal, Action.WRITE_OBJECTS, info, key=target.key,
              iam_action=target.iam_action)
    else:
        version_id = dict(target.query).get("versionId")
        with told_only_to_listers(request, principal, info):
            found = system.store.get_object(info.name, target.key, version_id)
        allow(request, principal, Action.READ_OBJECT, info, found.version["acl"],
              key=target.key, version=found.version, iam_action=target.iam_action)


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
    target = _target(text_field(body, "operation"), body)
    expires = _expires(body)
    info = await blocking(system.store.get_bucket, bucket)
    await blocking(_authorize, request, system, principal, info, target)
    if principal.access_key.startswith(SSO_KEY_PREFIX):  # no longer than its session
        expires = min(expires, SESSION_MAX_SECONDS)
    credentials = await blocking(_credentials, system, principal, expires)
    base = s3_base_url(request, system)
    host = base.split("://", 1)[1]
    path = f"/{bucket}/{target.key}" if target.key else f"/{bucket}"
    moment = datetime.now(UTC)
    signed = sigv4.presigned_query(
        sigv4.HttpRequest(target.method, path, target.query, {"host": host}), credentials,
        system.settings.region, moment.strftime("%Y%m%dT%H%M%SZ"), expires)
    return json_response({
        "url": base + sigv4.encoded_target(path, signed),
        "method": target.method,
        "expires_at": datetime.fromtimestamp(moment.timestamp() + expires, UTC).isoformat(),
    })
