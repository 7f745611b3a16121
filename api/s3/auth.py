"""Who is calling the S3 door: SigV4 in the header, in a presigned URL, or nobody.

Verifies the signature over the request line and headers; the payload is checked
later, as it streams (see api/s3/payload.py), against what the signature declared.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from api.s3 import sigv2, sigv4
from api.s3.addressing import Target
from api.s3.dates import parse_http_date
from api.s3.errors import (
    AuthorizationHeaderMalformed,
    AuthorizationQueryParametersError,
    InvalidRequest,
    RequestExpired,
    RequestTimeTooSkewed,
    S3ProtocolError,
    SignatureDoesNotMatch,
)
from api.sessions import SESSION_KEY_PREFIX, session_principal
from api.system import System
from domain.access import Principal
from domain.errors import AccessDenied, InvalidAccessKeyId

MAX_SKEW = timedelta(minutes=15)
MAX_PRESIGN_SECONDS = 7 * 24 * 3600
_PAYLOAD_MODES = (sigv4.UNSIGNED_PAYLOAD, *sigv4.STREAMING_MODES)


@dataclass(frozen=True)
class ChunkSigning:
    """What aws-chunked signatures chain from: the request's own signature."""

    key: bytes
    scope: sigv4.Scope
    amz_date: str
    seed: str


@dataclass(frozen=True)
class Caller:
    principal: Principal | None
    payload_hash: str  # a hex SHA-256, UNSIGNED-PAYLOAD or a STREAMING-* mode
    chunk_signing: ChunkSigning | None = None
    signature_version: str = ""  # s3:signatureversion: AWS4-HMAC-SHA256 or AWS (V2)
    auth_type: str = ""  # s3:authType: REST-HEADER, REST-QUERY-STRING or POST


def _parse_time(text: str) -> datetime:
    # By hand: strptime costs more than the rest of a signature check.
    try:
        if len(text) != 16 or text[8] != "T" or text[15] != "Z" or not text[:8].isdigit():
            raise ValueError(text)
        return datetime(
            int(text[0:4]), int(text[4:6]), int(text[6:8]),
            int(text[9:11]), int(text[11:13]), int(text[13:15]), tzinfo=UTC,
        )
    except ValueError:
        raise AuthorizationHeaderMalformed(
            f"X-Amz-Date {text!r} is not in the form YYYYMMDDTHHMMSSZ"
        ) from None


def check_scope(
    scope: sigv4.Scope, amz_date: str, region: str, error: type[S3ProtocolError]
) -> None:
    if scope.date != amz_date[:8]:
        raise error(f"The credential date {scope.date} does not match X-Amz-Date {amz_date}")
    if scope.region != region:
        raise error(
            f"The authorization header is malformed; the region {scope.region!r} is wrong; "
            f"expecting {region!r}",
            region=region,
        )
    if scope.service != "s3":
        raise error(f"The credential names service {scope.service!r}; expecting 's3'")


def authenticate(target: Target, system: System, now: datetime) -> Caller:
    headers = target.signed.headers
    if "authorization" in headers:
        return _from_header(target, system, now)
    if "X-Amz-Algorithm" in target.query or "X-Amz-Credential" in target.query:
        return _from_query(target, system, now)
    if "Signature" in target.query and "AWSAccessKeyId" in target.query:
        return _from_v2_query(target, system, now)
    declared = headers.get("x-amz-content-sha256", sigv4.UNSIGNED_PAYLOAD)
    return Caller(None, declared)


def principal_of(system: System, access_key: str, session_token: str | None = None
                 ) -> tuple[Principal, str]:
    """The caller an access key names and its secret; a temporary key of an STS
    session needs its session token (x-amz-security-token)."""
    if session_token is not None or access_key.startswith(SESSION_KEY_PREFIX):
        if not session_token:
            raise InvalidAccessKeyId("A temporary access key needs its session token "
                                     "(x-amz-security-token)", access_key=access_key)
        return session_principal(system, access_key, session_token)
    return _stored_principal(system, access_key)


def _stored_principal(system: System, access_key: str) -> tuple[Principal, str]:
    credentials = system.store.credentials(access_key)  # InvalidAccessKeyId if unknown
    secret = system.secret_box.decrypt(credentials.secret_ciphertext)
    return Principal(credentials.user, access_key, credentials.is_admin), secret


def _require_signed(headers: Mapping[str, str], signed_headers: tuple[str, ...]) -> None:
    """As AWS: `host` and every x-amz-* header the request carries must be signed, so
    that whoever holds a signature cannot add a copy source or an ACL to it."""
    signed = set(signed_headers)
    if "host" not in signed:
        raise AccessDenied("The host header must be signed", header="host")
    unsigned = sorted(n for n in headers if n.startswith("x-amz-") and n not in signed)
    if unsigned:
        raise AccessDenied(
            "There were headers present in the request which were not signed",
            headers_not_signed=", ".join(unsigned)[:1024],
        )


def _verify(
    target: Target,
    secret: str,
    scope: sigv4.Scope,
    amz_date: str,
    signed_headers: tuple[str, ...],
    payload_hash: str,
    signature: str,
    skip_query: str | None,
) -> bytes:
    try:
        canonical = sigv4.canonical_request(target.signed, signed_headers, payload_hash, skip_query)
    except sigv4.MalformedAuthorization as exc:
        raise AuthorizationHeaderMalformed(str(exc)) from None
    to_sign = sigv4.string_to_sign(amz_date, scope, canonical)
    key = sigv4.signing_key(secret, scope)
    if not sigv4.signatures_match(sigv4.sign(key, to_sign), signature):
        raise SignatureDoesNotMatch(
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
            access_key=scope.access_key,
            string_to_sign=to_sign,
            canonical_request=canonical,
        )
    return key


def _from_header(target: Target, system: System, now: datetime) -> Caller:
    headers = target.signed.headers
    header = headers["authorization"]
    if header.startswith("AWS "):
        return _from_v2_header(target, system, now)
    try:
        auth = sigv4.parse_authorization(header)
    except sigv4.MalformedAuthorization as exc:
        raise AuthorizationHeaderMalformed(str(exc)) from None
    amz_date = headers.get("x-amz-date", "")
    if not amz_date:
        raise AuthorizationHeaderMalformed("A signed request needs an X-Amz-Date header")
    moment = _parse_time(amz_date)
    if abs(now - moment) > MAX_SKEW:
        raise RequestTimeTooSkewed(
            "The difference between the request time and the current time is too large.",
            request_time=amz_date,
            server_time=now.strftime("%Y%m%dT%H%M%SZ"),
        )
    check_scope(auth.scope, amz_date, system.settings.region, AuthorizationHeaderMalformed)
    payload_hash = headers.get("x-amz-content-sha256")
    if payload_hash is None:
        raise InvalidRequest("Missing required header for this request: x-amz-content-sha256")
    if payload_hash not in _PAYLOAD_MODES and not sigv4.is_payload_hash(payload_hash):
        raise InvalidRequest(f"x-amz-content-sha256 {payload_hash!r} is not a valid value")
    _require_signed(headers, auth.signed_headers)
    principal, secret = principal_of(system, auth.scope.access_key,
                                     headers.get("x-amz-security-token"))
    key = _verify(
        target,
        secret,
        auth.scope,
        amz_date,
        auth.signed_headers,
        payload_hash,
        auth.signature,
        None,
    )
    chunking = None
    if payload_hash in (sigv4.STREAMING_SIGNED, sigv4.STREAMING_SIGNED_TRAILER):
        chunking = ChunkSigning(key, auth.scope, amz_date, auth.signature)
    return Caller(principal, payload_hash, chunking, "AWS4-HMAC-SHA256", "REST-HEADER")


def _from_query(target: Target, system: System, now: datetime) -> Caller:
    query = target.query
    fail = AuthorizationQueryParametersError
    for name in (
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
    ):
        if not query.get(name):
            raise fail(f"Query-string authentication requires the {name} parameter")
    if query["X-Amz-Algorithm"] != sigv4.ALGORITHM:
        raise fail('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"')
    try:
        scope = sigv4.parse_credential(query["X-Amz-Credential"])
        signed_headers = tuple(query["X-Amz-SignedHeaders"].split(";"))
    except sigv4.MalformedAuthorization as exc:
        raise fail(str(exc)) from None
    amz_date = query["X-Amz-Date"]
    moment = _parse_time(amz_date)
    try:
        expires = int(query["X-Amz-Expires"])
    except ValueError:
        raise fail("X-Amz-Expires should be a number") from None
    if not 1 <= expires <= MAX_PRESIGN_SECONDS:
        raise fail("X-Amz-Expires must be between 1 and 604800 seconds")
    check_scope(scope, amz_date, system.settings.region, fail)
    if now - moment > timedelta(seconds=expires):
        raise RequestExpired(
            "Request has expired",
            expires=(moment + timedelta(seconds=expires)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            server_time=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
    if moment - now > MAX_SKEW:
        raise RequestExpired("Request is not valid yet")
    _require_signed(target.signed.headers, signed_headers)
    principal, secret = principal_of(system, scope.access_key,
                                     query.get("X-Amz-Security-Token"))
    payload_hash = target.signed.headers.get("x-amz-content-sha256", sigv4.UNSIGNED_PAYLOAD)
    _verify(
        target,
        secret,
        scope,
        amz_date,
        signed_headers,
        payload_hash,
        query["X-Amz-Signature"],
        "X-Amz-Signature",
    )
    return Caller(principal, payload_hash, None, "AWS4-HMAC-SHA256", "REST-QUERY-STRING")


def _check_v2(target: Target, system: System, access_key: str, signature: str, date: str) -> Caller:
    principal, secret = principal_of(
        system, access_key,
        target.signed.headers.get("x-amz-security-token")
        or target.query.get("x-amz-security-token"))
    resource = sigv2.canonical_resource(target.resource, target.signed.query)
    # x-amz-* parameters of a presigned URL (a session's x-amz-security-token) are
    # signed as the headers they stand for
    amz_query = {k.lower(): v for k, v in target.query.items() if k.lower().startswith("x-amz-")}
    headers = {**amz_query, **target.signed.headers} if amz_query else target.signed.headers
    to_sign = sigv2.string_to_sign(target.signed.method, headers, date, resource)
    if not sigv4.signatures_match(sigv2.sign(secret, to_sign), signature):
        raise SignatureDoesNotMatch(
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
            access_key=access_key,
            string_to_sign=to_sign,
        )
    return Caller(principal, sigv4.UNSIGNED_PAYLOAD, None, "AWS", "REST-QUERY-STRING")


def _from_v2_query(target: Target, system: System, now: datetime) -> Caller:
    query = target.query
    raw = query.get("Expires", "")
    if not raw.isdigit() or len(raw) > 12:
        raise AuthorizationQueryParametersError(
            "Expires must be a time in seconds since 1970 (at most 12 digits)"
        )
    expires = int(raw)
    if now.timestamp() > expires:
        raise RequestExpired(
            "Request has expired",
            expires=datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            server_time=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
    if expires - now.timestamp() > MAX_PRESIGN_SECONDS:
        raise AuthorizationQueryParametersError(
            "A presigned URL may be valid for at most 604800 seconds (7 days)"
        )
    return _check_v2(target, system, query["AWSAccessKeyId"], query["Signature"], str(expires))


def _from_v2_header(target: Target, system: System, now: datetime) -> Caller:
    headers = target.signed.headers
    access_key, sep, signature = headers["authorization"][4:].strip().rpartition(":")
    if not sep or not access_key:
        raise AuthorizationHeaderMalformed('Expected "AWS <access key>:<signature>"')
    stamp = headers.get("x-amz-date") or headers.get("date", "")
    moment = parse_http_date(stamp)
    if moment is None:
        raise AccessDenied("AWS authentication requires a valid Date or x-amz-date header")
    if abs(now - moment) > MAX_SKEW:
        raise RequestTimeTooSkewed(
            "The difference between the request time and the current time is too large.",
            request_time=stamp,
            server_time=now.strftime("%a, %d %b %Y %H:%M:%S GMT"),
        )
    date_line = "" if "x-amz-date" in headers else headers.get("date", "")
    return _check_v2(target, system, access_key, signature, date_line)
