"""The S3 door: one endpoint that addresses, authenticates, then routes by method,
target (service, bucket or object) and sub-resource."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from api.blocking import query
from api.context import new_request_id
from api.denials import REFUSED, record_denied
from api.health import health_response
from api.s3 import buckets, listing, multipart, objects
from api.s3.addressing import locate
from api.s3.auth import authenticate
from api.s3.common import Call
from api.s3.errors import NoSuchConfiguration, NotImplementedYet, classify, handle_error
from api.system import System

Handler = Callable[[Call], Awaitable[Response]]

# Cannot clash with a bucket: "_" is not allowed in bucket names.
HEALTH_PATH = "/_strata/healthz"

# Bucket sub-resources strata does not keep: GET answers the "nothing configured" error
# a client expects from S3, anything else is NotImplemented.
_UNCONFIGURED = {
    "policy": "NoSuchBucketPolicy",
    "cors": "NoSuchCORSConfiguration",
    "lifecycle": "NoSuchLifecycleConfiguration",
    "tagging": "NoSuchTagSet",
    "website": "NoSuchWebsiteConfiguration",
    "encryption": "ServerSideEncryptionConfigurationNotFoundError",
    "replication": "ReplicationConfigurationNotFoundError",
    "object-lock": "ObjectLockConfigurationNotFoundError",
    "ownershipControls": "OwnershipControlsNotFoundError",
}
_UNSUPPORTED = (
    "logging",
    "notification",
    "requestPayment",
    "accelerate",
    "analytics",
    "metrics",
    "inventory",
    "intelligent-tiering",
    "publicAccessBlock",
    "policyStatus",
    "torrent",
    "restore",
    "select",
    "retention",
    "legal-hold",
    "attributes",
    "tagging",
)


# What a plain bucket request (a listing, a creation, a deletion) may carry besides
# its signature. Any other parameter names a sub-resource: one strata does not serve
# answers NotImplemented rather than fall through to a listing or a creation.
_PLAIN_BUCKET_PARAMETERS = frozenset((
    "list-type", "prefix", "delimiter", "marker", "max-keys", "continuation-token",
    "fetch-owner", "start-after", "encoding-type", "x-id",
    "AWSAccessKeyId", "Signature", "Expires",
))


def _names_a_sub_resource(query: dict[str, str]) -> bool:
    return any(
        name not in _PLAIN_BUCKET_PARAMETERS and not name.lower().startswith("x-amz-")
        for name in query
    )


def _unconfigured(name: str) -> Handler:
    async def handler(call: Call) -> Response:
        await call.bucket_info()
        raise NoSuchConfiguration(
            f"The {name} configuration does not exist", _UNCONFIGURED[name], bucket=call.bucket
        )

    return handler


async def _not_implemented(call: Call) -> Response:
    raise NotImplementedYet(
        "A header or query you provided implies functionality that is not implemented."
    )


def _bucket_handler(method: str, query: dict[str, str]) -> Handler:
    if method == "GET":
        for name in ("versioning", "acl", "location", "uploads", "versions"):
            if name in query:
                return {
                    "versioning": buckets.get_versioning,
                    "acl": buckets.get_acl,
                    "location": buckets.get_location,
                    "uploads": multipart.list_uploads,
                    "versions": listing.list_object_versions,
                }[name]
        for name in _UNCONFIGURED:
            if name in query:
                return _unconfigured(name)
        if _names_a_sub_resource(query):
            return _not_implemented
        return (
            listing.list_objects_v2 if query.get("list-type") == "2" else (listing.list_objects_v1)
        )
    if method == "PUT":
        if "versioning" in query:
            return buckets.put_versioning
        if "acl" in query:
            return buckets.put_acl
        if _names_a_sub_resource(query):
            return _not_implemented
        return buckets.create_bucket
    if method == "HEAD":
        return buckets.head_bucket
    if method == "DELETE":
        if _names_a_sub_resource(query):
            return _not_implemented
        return buckets.delete_bucket
    if method == "POST" and "delete" in query:
        return objects.delete_objects
    return _not_implemented


def _object_handler(method: str, query: dict[str, str]) -> Handler:
    if method == "GET":
        if "acl" in query:
            return objects.get_object_acl
        if "uploadId" in query:
            return multipart.list_parts
        if "tagging" in query:
            return objects.get_object_tagging
        if any(name in query for name in _UNSUPPORTED):
            return _not_implemented
        return objects.get_object
    if method == "HEAD":
        return objects.head_object
    if method == "PUT":
        if "acl" in query:
            return objects.put_object_acl
        if "uploadId" in query or "partNumber" in query:
            return multipart.upload_part
        if any(name in query for name in _UNSUPPORTED):
            return _not_implemented
        return objects.put_object
    if method == "DELETE":
        if "uploadId" in query:
            return multipart.abort
        if any(name in query for name in _UNSUPPORTED):
            return _not_implemented
        return objects.delete_object
    if method == "POST":
        if "uploads" in query:
            return multipart.create
        if "uploadId" in query:
            return multipart.complete
    return _not_implemented


def route(method: str, bucket: str, key: str, query: dict[str, str]) -> Handler:
    if not bucket:
        return buckets.list_buckets if method == "GET" else _not_implemented
    if not key:
        return _bucket_handler(method, query)
    return _object_handler(method, query)


class S3Door:
    """The S3 door as a bare ASGI app: every request takes the same path (address,
    authenticate, route), so a router and middleware stack would only add cost."""

    def __init__(self, system: System) -> None:
        self.system = system

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        request_id = new_request_id()
        scope["state"] = {"request_id": request_id}
        request = Request(scope, receive)
        response: Response
        try:
            if scope["path"] == HEALTH_PATH:
                response = health_response(self.system)
            else:
                response = await self._serve(request)
        except Exception as exc:
            response = await handle_error(request, exc)
            if response.status_code in REFUSED:
                found = classify(exc)
                code = found[0] if found else "AccessDenied"
                record_denied(self.system, request, "s3", code, response.status_code, exc)
        rid = request_id.encode()
        response.raw_headers += [(b"x-request-id", rid), (b"x-amz-request-id", rid)]
        await response(scope, receive, send)

    async def _serve(self, request: Request) -> Response:
        system = self.system
        target = locate(request, system.settings.domain)
        now = datetime.now(UTC)
        caller = await query(authenticate, target, system, now)
        handler = route(request.method, target.bucket, target.key, target.query)
        return await handler(Call(request, system, target, caller, now))


async def _lifespan(receive: Receive, send: Send) -> None:
    """The System is opened and closed by its owner (infra.run.serve), not by the door."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
