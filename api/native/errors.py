"""The native door's one error table, and the handler that renders JSON errors."""

from __future__ import annotations

import logging

import orjson
from starlette.requests import Request
from starlette.responses import Response

from api.auth import TooManyAttempts, Unauthorized
from api.context import request_id
from api.denials import REFUSED, record_denied
from api.ranges import RangeNotSatisfiable
from domain import errors as e
from projections.runner import BarrierTimeout

log = logging.getLogger("strata.api")


class MalformedRequest(e.StrataError):
    """The body or a parameter cannot be parsed."""


ERRORS: dict[type[Exception], tuple[str, int]] = {
    e.InvalidBucketName: ("InvalidBucketName", 400),
    e.InvalidObjectKey: ("InvalidObjectKey", 400),
    e.InvalidArgument: ("InvalidArgument", 400),
    e.MetadataTooLarge: ("MetadataTooLarge", 400),
    e.IncompleteBody: ("IncompleteBody", 400),
    e.ChunkRefused: ("BadDigest", 400),
    e.InvalidTag: ("InvalidTag", 400),
    e.MalformedPolicy: ("MalformedPolicy", 400),
    e.KeyUnavailable: ("KeyUnavailable", 400),
    e.CustomerKeyRequired: ("InvalidRequest", 400),
    e.IdentityTokenRefused: ("Unauthorized", 401),
    e.IssuerUnreachable: ("ServiceUnavailable", 503),
    e.TooManyTags: ("TooManyTags", 400),
    e.InvalidRetention: ("InvalidRetention", 400),
    e.ObjectLockNotEnabled: ("ObjectLockNotEnabled", 400),
    e.MalformedLifecycle: ("MalformedLifecycle", 400),
    e.ObjectLocked: ("ObjectLocked", 403),
    MalformedRequest: ("MalformedRequest", 400),
    Unauthorized: ("Unauthorized", 401),
    TooManyAttempts: ("SlowDown", 429),
    e.InvalidAccessKeyId: ("InvalidAccessKeyId", 403),
    e.AccessDenied: ("AccessDenied", 403),
    e.NoSuchBucket: ("NoSuchBucket", 404),
    e.NoSuchKey: ("NoSuchKey", 404),
    e.NoSuchVersion: ("NoSuchVersion", 404),
    e.NoSuchUser: ("NoSuchUser", 404),
    e.NoSuchNode: ("NoSuchNode", 404),
    e.NoSuchSite: ("NoSuchSite", 404),
    e.NoSuchReplicationConfiguration: ("NoSuchReplicationConfiguration", 404),
    e.ReplicationNeedsVersioning: ("InvalidRequest", 400),
    e.InvalidBucketState: ("InvalidBucketState", 409),
    e.NotAvailable: ("NotImplemented", 501),
    e.MethodNotAllowed: ("MethodNotAllowed", 405),
    e.BucketAlreadyExists: ("BucketAlreadyExists", 409),
    e.BucketAlreadyOwnedByYou: ("BucketAlreadyOwnedByYou", 409),
    e.BucketNotEmpty: ("BucketNotEmpty", 409),
    e.UserAlreadyExists: ("UserAlreadyExists", 409),
    e.AccessKeyAlreadyExists: ("AccessKeyAlreadyExists", 409),
    RangeNotSatisfiable: ("InvalidRange", 416),
    e.ConflictingWrites: ("SlowDown", 503),
    e.DataGone: ("Gone", 410),
    e.InsufficientReplicas: ("ServiceUnavailable", 503),
    e.ChunkUnavailable: ("ServiceUnavailable", 503),
    BarrierTimeout: ("ServiceUnavailable", 503),
}




def error_response(request: Request, code: str, status: int, message: str) -> Response:
    body = {"error": code, "message": message, "request_id": request_id(request)}
    return Response(orjson.dumps(body), status, media_type="application/json")


def code_of(exc: Exception) -> tuple[str, int] | None:
    """The native door's error code and status for `exc`; None if it has none."""
    for kind in type(exc).__mro__:
        if kind in ERRORS:
            return ERRORS[kind]
    return None


async def handle_error(request: Request, exc: Exception) -> Response:
    found = code_of(exc)
    if found is not None:
        code, status = found
        message = exc.message if isinstance(exc, e.StrataError) else str(exc)
        response = error_response(request, code, status, message)
        if status in REFUSED:
            record_denied(request.app.state.system, request, "native", code, status, exc)
        if isinstance(exc, Unauthorized):
            response.headers["www-authenticate"] = "Bearer"
        if isinstance(exc, TooManyAttempts):
            response.headers["retry-after"] = str(exc.fields["retry_after"])
        return response
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(
        request, "InternalError", 500, "We encountered an internal error. Please try again."
    )
