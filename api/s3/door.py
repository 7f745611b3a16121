"""The S3 door: one endpoint that addresses, authenticates, then routes by method,
target (service, bucket or object) and sub-resource."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from api.blocking import blocking, query
from api.context import new_request_id
from api.denials import REFUSED, record_denied
from api.health import health_response
from api.s3 import (
    attributes,
    bucket_encryption,
    buckets,
    cors,
    lifecycle,
    listing,
    multipart,
    object_lock,
    objects,
    policy,
    post_object,
    public_access,
    replication,
    sts,
    tagging,
)
from api.s3.addressing import locate
from api.s3.auth import authenticate
from api.s3.common import Call
from api.s3.errors import NoSuchConfiguration, NotImplementedYet, classify, handle_error
from api.s3.router import NOT_IMPLEMENTED, UNCONFIGURED, parse_operation, unconfigured_operation
from api.system import System
from domain.runtime.read_cache import set_reads_fresh

log = logging.getLogger("strata.s3")
Handler = Callable[[Call], Awaitable[Response]]

# Cannot clash with a bucket: "_" is not allowed in bucket names.
HEALTH_PATH = "/_strata/healthz"

def _unconfigured(name: str) -> Handler:
    async def handler(call: Call) -> Response:
        await call.bucket_info()
        raise NoSuchConfiguration(
            f"The {name} configuration does not exist", UNCONFIGURED[name], bucket=call.bucket
        )

    return handler


async def _not_implemented(call: Call) -> Response:
    raise NotImplementedYet(
        "A header or query you provided implies functionality that is not implemented."
    )


HANDLERS: dict[str, Handler] = {
    "ListBuckets": buckets.list_buckets,
    "CreateBucket": buckets.create_bucket,
    "HeadBucket": buckets.head_bucket,
    "DeleteBucket": buckets.delete_bucket,
    "GetBucketLocation": buckets.get_location,
    "GetBucketVersioning": buckets.get_versioning,
    "PutBucketVersioning": buckets.put_versioning,
    "GetBucketAcl": buckets.get_acl,
    "PutBucketAcl": buckets.put_acl,
    "GetBucketReplication": replication.get_replication,
    "PutBucketReplication": replication.put_replication,
    "DeleteBucketReplication": replication.delete_replication,
    "ListObjects": listing.list_objects_v1,
    "ListObjectsV2": listing.list_objects_v2,
    "ListObjectVersions": listing.list_object_versions,
    "ListMultipartUploads": multipart.list_uploads,
    "DeleteObjects": objects.delete_objects,
    "GetObject": objects.get_object,
    "HeadObject": objects.head_object,
    "PutObject": objects.put_object,
    "CopyObject": objects.copy_object,
    "DeleteObject": objects.delete_object,
    "GetObjectAcl": objects.get_object_acl,
    "PutObjectAcl": objects.put_object_acl,
    "GetObjectAttributes": attributes.get_object_attributes,
    "GetBucketPolicy": policy.get_policy,
    "PutBucketPolicy": policy.put_policy,
    "DeleteBucketPolicy": policy.delete_policy,
    "GetBucketPolicyStatus": policy.get_policy_status,
    "PostObject": post_object.post_object,
    "AssumeRoleWithWebIdentity": sts.assume_role_with_web_identity,
    "GetBucketEncryption": bucket_encryption.get_encryption,
    "PutBucketEncryption": bucket_encryption.put_encryption,
    "DeleteBucketEncryption": bucket_encryption.delete_encryption,
    "GetBucketCors": cors.get_cors,
    "PutBucketCors": cors.put_cors,
    "DeleteBucketCors": cors.delete_cors,
    "GetPublicAccessBlock": public_access.get_public_access_block,
    "PutPublicAccessBlock": public_access.put_public_access_block,
    "DeletePublicAccessBlock": public_access.delete_public_access_block,
    "GetObjectTagging": tagging.get_object_tagging,
    "PutObjectTagging": tagging.put_object_tagging,
    "DeleteObjectTagging": tagging.delete_object_tagging,
    "GetBucketTagging": tagging.get_bucket_tagging,
    "PutBucketTagging": tagging.put_bucket_tagging,
    "DeleteBucketTagging": tagging.delete_bucket_tagging,
    "GetBucketLifecycleConfiguration": lifecycle.get_lifecycle,
    "PutBucketLifecycleConfiguration": lifecycle.put_lifecycle,
    "DeleteBucketLifecycle": lifecycle.delete_lifecycle,
    "GetObjectLockConfiguration": object_lock.get_lock_configuration,
    "PutObjectLockConfiguration": object_lock.put_lock_configuration,
    "GetObjectRetention": object_lock.get_retention,
    "PutObjectRetention": object_lock.put_retention,
    "GetObjectLegalHold": object_lock.get_legal_hold,
    "PutObjectLegalHold": object_lock.put_legal_hold,
    "CreateMultipartUpload": multipart.create,
    "UploadPart": multipart.upload_part,
    "UploadPartCopy": multipart.upload_part,
    "CompleteMultipartUpload": multipart.complete,
    "AbortMultipartUpload": multipart.abort,
    "ListParts": multipart.list_parts,
    NOT_IMPLEMENTED: _not_implemented,
    **{unconfigured_operation(name): _unconfigured(name) for name in UNCONFIGURED},
}


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
        metrics = self.system.request_metrics
        started = metrics.started("s3")
        code = ""
        response: Response
        try:
            if scope["path"] == HEALTH_PATH:
                scope["state"]["operation"] = "Health"
                response = await health_response(self.system)
            else:
                response = await self._serve(request)
        except Exception as exc:
            found = classify(exc)
            code = found[0] if found else "InternalError"
            response = await handle_error(request, exc)
            if response.status_code in REFUSED:
                found = classify(exc)
                code = found[0] if found else "AccessDenied"
                record_denied(self.system, request, "s3", code, response.status_code, exc)
        rid = request_id.encode()
        response.raw_headers += [(b"x-request-id", rid), (b"x-amz-request-id", rid)]
        bucket = scope["state"].get("bucket")
        if bucket and request.method != "OPTIONS" and "origin" in request.headers:
            try:
                response.raw_headers += await cors.actual_headers(request, self.system, bucket)
            except Exception:  # the answer stands without CORS headers, as a browser sees it
                log.exception("adding CORS headers failed")
        try:
            await response(scope, receive, send)
        finally:
            metrics.answered("s3", scope["state"].get("operation", "Unparsed"),
                             response.status_code, code, started,
                             _length(request.headers.get("content-length")),
                             _length(response.headers.get("content-length")), scope["state"])

    async def _serve(self, request: Request) -> Response:
        system = self.system
        target = locate(request, system.settings.domain)
        request.scope["state"]["bucket"] = target.bucket
        if request.method == "OPTIONS":
            return await cors.preflight(request, system, target.bucket)
        now = datetime.now(UTC)
        if system.settings.event_store:  # others write it: a look at the heads it reads
            set_reads_fresh(await blocking(system.reads_fresh, target.bucket))
        caller = await query(authenticate, target, system, now)
        if caller.principal is not None:
            request.scope["state"]["actor"] = caller.principal.access_key
        content_type = target.signed.headers.get("content-type", "")
        operation = parse_operation(
            request.method, target.bucket, target.key, target.query,
            "x-amz-copy-source" in target.signed.headers,
            content_type.startswith("multipart/form-data"),
            content_type.startswith("application/x-www-form-urlencoded"))
        request.scope["state"]["operation"] = operation.name
        return await HANDLERS[operation.name](
            Call(request, system, target, caller, now, operation)
        )


def _length(value: str | None) -> int:
    return int(value) if value and value.isdigit() and len(value) < 19 else 0


async def _lifespan(receive: Receive, send: Send) -> None:
    """The System is opened and closed by its owner (infra.run.serve), not by the door."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
