"""The S3 door's one error table and its XML <Error> rendering.

Domain errors carry fields; protocol errors (signature, digest, XML, preconditions)
are defined here. The table gives each the AWS code and HTTP status.
"""

from __future__ import annotations

import logging
from xml.sax.saxutils import escape

from starlette.requests import Request
from starlette.responses import Response

from api.context import request_id
from api.numbers import whole_number
from api.ranges import RangeNotSatisfiable
from domain import errors as e
from projections.runner import BarrierTimeout

log = logging.getLogger("strata.s3")


class S3ProtocolError(e.StrataError):
    """An error of the S3 protocol itself rather than of the store."""


class SignatureDoesNotMatch(S3ProtocolError):
    pass


class AuthorizationHeaderMalformed(S3ProtocolError):
    pass


class AuthorizationQueryParametersError(S3ProtocolError):
    pass


class RequestTimeTooSkewed(S3ProtocolError):
    pass


class RequestExpired(S3ProtocolError):
    pass


class MissingSecurityHeader(S3ProtocolError):
    pass


class ContentSHA256Mismatch(S3ProtocolError):
    pass


class InvalidDigest(S3ProtocolError):
    pass


class BadDigest(S3ProtocolError):
    pass


class InvalidChunkEncoding(S3ProtocolError):
    pass


class MalformedXML(S3ProtocolError):
    pass


class InvalidRequest(S3ProtocolError):
    pass


class MalformedPOSTRequest(S3ProtocolError):
    pass


class MissingContentLength(S3ProtocolError):
    pass


class EntityTooLarge(S3ProtocolError):
    pass


class NotImplementedYet(S3ProtocolError):
    pass


class NotModified(S3ProtocolError):
    """Not an error to the client: a 304 without a body."""


class MalformedACLError(S3ProtocolError):
    pass


class InvalidLocationConstraint(S3ProtocolError):
    pass


class NoSuchConfiguration(S3ProtocolError):
    """A bucket sub-resource strata does not keep, asked for with GET."""

    def __init__(self, message: str, code: str, **fields: object) -> None:
        super().__init__(message, **fields)
        self.code = code


ERRORS: dict[type[Exception], tuple[str, int]] = {
    e.InvalidBucketName: ("InvalidBucketName", 400),
    e.KeyTooLong: ("KeyTooLongError", 400),
    e.InvalidObjectKey: ("InvalidArgument", 400),
    e.InvalidArgument: ("InvalidArgument", 400),
    e.MetadataTooLarge: ("MetadataTooLarge", 400),
    e.IncompleteBody: ("IncompleteBody", 400),
    e.InvalidPart: ("InvalidPart", 400),
    e.InvalidPartOrder: ("InvalidPartOrder", 400),
    e.EntityTooSmall: ("EntityTooSmall", 400),
    e.InvalidTag: ("InvalidTag", 400),
    e.MalformedPolicy: ("MalformedPolicy", 400),
    e.KeyUnavailable: ("KMS.NotFoundException", 400),
    e.CustomerKeyRequired: ("InvalidRequest", 400),
    e.TokenExpired: ("ExpiredToken", 400),
    e.IdentityTokenRefused: ("InvalidToken", 400),
    e.IssuerUnreachable: ("ServiceUnavailable", 503),
    e.TooManyTags: ("BadRequest", 400),
    e.InvalidRetention: ("InvalidArgument", 400),
    e.ObjectLockNotEnabled: ("InvalidRequest", 400),
    e.MalformedLifecycle: ("MalformedXML", 400),
    e.ObjectLocked: ("AccessDenied", 403),
    AuthorizationHeaderMalformed: ("AuthorizationHeaderMalformed", 400),
    AuthorizationQueryParametersError: ("AuthorizationQueryParametersError", 400),
    ContentSHA256Mismatch: ("XAmzContentSHA256Mismatch", 400),
    InvalidDigest: ("InvalidDigest", 400),
    BadDigest: ("BadDigest", 400),
    InvalidChunkEncoding: ("IncompleteBody", 400),
    MalformedXML: ("MalformedXML", 400),
    MalformedACLError: ("MalformedACLError", 400),
    InvalidRequest: ("InvalidRequest", 400),
    MalformedPOSTRequest: ("MalformedPOSTRequest", 400),
    InvalidLocationConstraint: ("InvalidLocationConstraint", 400),
    EntityTooLarge: ("EntityTooLarge", 400),
    MissingSecurityHeader: ("MissingSecurityHeader", 400),
    e.InvalidAccessKeyId: ("InvalidAccessKeyId", 403),
    e.AccessDenied: ("AccessDenied", 403),
    SignatureDoesNotMatch: ("SignatureDoesNotMatch", 403),
    RequestTimeTooSkewed: ("RequestTimeTooSkewed", 403),
    RequestExpired: ("AccessDenied", 403),
    e.NoSuchBucket: ("NoSuchBucket", 404),
    e.NoSuchKey: ("NoSuchKey", 404),
    e.NoSuchVersion: ("NoSuchVersion", 404),
    e.NoSuchUpload: ("NoSuchUpload", 404),
    e.MethodNotAllowed: ("MethodNotAllowed", 405),
    e.BucketAlreadyExists: ("BucketAlreadyExists", 409),
    e.BucketAlreadyOwnedByYou: ("BucketAlreadyOwnedByYou", 409),
    e.BucketNotEmpty: ("BucketNotEmpty", 409),
    e.InvalidBucketState: ("InvalidBucketState", 409),
    e.NotAvailable: ("NotImplemented", 501),
    e.ReplicationNeedsVersioning: ("InvalidRequest", 400),
    e.NoSuchReplicationConfiguration: ("ReplicationConfigurationNotFoundError", 404),
    MissingContentLength: ("MissingContentLength", 411),
    e.PreconditionFailed: ("PreconditionFailed", 412),
    RangeNotSatisfiable: ("InvalidRange", 416),
    NotImplementedYet: ("NotImplemented", 501),
    e.ConflictingWrites: ("SlowDown", 503),
    e.DataGone: ("Gone", 410),
    e.InsufficientReplicas: ("ServiceUnavailable", 503),
    e.ChunkUnavailable: ("ServiceUnavailable", 503),
    BarrierTimeout: ("ServiceUnavailable", 503),
}

# Fields worth echoing in the <Error> body, under the element names AWS uses.
_ECHOED = (
    ("bucket", "BucketName"),
    ("key", "Key"),
    ("version_id", "VersionId"),
    ("upload_id", "UploadId"),
    ("access_key", "AWSAccessKeyId"),
    ("string_to_sign", "StringToSign"),
    ("canonical_request", "CanonicalRequest"),
    ("request_time", "RequestTime"),
    ("server_time", "ServerTime"),
    ("expires", "Expires"),
    ("region", "Region"),
    ("condition", "Condition"),
    ("min_size", "MinSizeAllowed"),
    ("size", "ProposedSize"),
    ("headers_not_signed", "HeadersNotSigned"),
)


def error_xml(code: str, message: str, resource: str, rid: str, fields: dict[str, object]) -> bytes:
    extra = "".join(
        f"<{tag}>{escape(str(fields[name]))}</{tag}>"
        for name, tag in _ECHOED
        if fields.get(name) is not None
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>{extra}"
        f"<Resource>{escape(resource)}</Resource><RequestId>{rid}</RequestId></Error>"
    ).encode()


def _may_have_unread_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    if "transfer-encoding" in request.headers:
        return True
    return length is not None and whole_number(length) != 0


def classify(exc: Exception) -> tuple[str, int] | None:
    if isinstance(exc, NoSuchConfiguration):
        return exc.code, 404
    for kind in type(exc).__mro__:
        if kind in ERRORS:
            return ERRORS[kind]
    return None


async def handle_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, NotModified):
        return Response(status_code=304, headers={k: str(v) for k, v in exc.fields.items()})
    found = classify(exc)
    if found is None:
        log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        code, status = "InternalError", 500
        message, fields = "We encountered an internal error. Please try again.", {}
    else:
        code, status = found
        if isinstance(exc, e.StrataError):
            message, fields = exc.message, dict(exc.fields)
        else:  # the views lagging behind the log (BarrierTimeout): worth a retry
            message, fields = "Please try again: the listing is catching up.", {}
    headers: dict[str, str] = {}
    if isinstance(exc, e.NoSuchKey) and exc.delete_marker:
        headers["x-amz-delete-marker"] = "true"
    if isinstance(exc, e.MethodNotAllowed) and exc.fields.get("delete_marker"):
        headers["x-amz-delete-marker"] = "true"
        headers["allow"] = "DELETE"
    if isinstance(exc, RangeNotSatisfiable) and "size" in exc.fields:
        headers["content-range"] = f"bytes */{exc.fields['size']}"
        fields.pop("size")
    if _may_have_unread_body(request):
        # The body may be partly unread; closing keeps its bytes from being taken for the
        # next request on this connection.
        headers["connection"] = "close"
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers)
    body = error_xml(code, message, request.url.path, request_id(request), fields)
    return Response(body, status, headers, media_type="application/xml")
