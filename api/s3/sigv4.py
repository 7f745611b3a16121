"""AWS Signature Version 4, as S3 defines it: pure functions, no I/O.

The server rebuilds what the client signed from what arrived, so every input here is
the request as decoded once: the path without percent-escapes, the query as decoded
pairs, header names lower-cased. Canonical forms re-encode them by AWS's rules.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
STREAMING_MODES = (STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER)
_SPACES = re.compile(r" +")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class MalformedAuthorization(ValueError):
    """The Authorization header or presigned query cannot be parsed."""


@dataclass(frozen=True)
class Scope:
    access_key: str
    date: str  # YYYYMMDD
    region: str
    service: str

    @property
    def text(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


@dataclass(frozen=True)
class Authorization:
    scope: Scope
    signed_headers: tuple[str, ...]
    signature: str


@dataclass(frozen=True)
class HttpRequest:
    """The parts of a request that a signature covers."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    headers: Mapping[str, str]


_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")
_UNRESERVED_PATH = re.compile(r"[A-Za-z0-9_.~/-]*")


def uri_encode_once(text: str, keep_slash: bool = False) -> str:
    """Percent-encode every byte except A-Z a-z 0-9 - _ . ~ (and '/' in a path)."""
    if (_UNRESERVED_PATH if keep_slash else _UNRESERVED).fullmatch(text):
        return text  # the common case, and much cheaper than quote()
    return quote(text, safe="/~" if keep_slash else "~")


# A client's credential scope and signed headers repeat; a listing's thousand keys do
# not, and call uri_encode_once.
uri_encode = functools.lru_cache(maxsize=1024)(uri_encode_once)


def parse_credential(credential: str) -> Scope:
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not parts[0]:
        raise MalformedAuthorization(
            "The Credential is malformed; expected "
            '"<access key>/<YYYYMMDD>/<region>/s3/aws4_request"'
        )
    return Scope(parts[0], parts[1], parts[2], parts[3])


def parse_authorization(header: str) -> Authorization:
    """Parse `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`."""
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise MalformedAuthorization(f"Unsupported authorization type {algorithm!r}")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, value = part.strip().partition("=")
        if sep:
            fields[name] = value
    try:
        return Authorization(
            parse_credential(fields["Credential"]),
            _signed_headers(fields["SignedHeaders"]),
            fields["Signature"],
        )
    except KeyError as missing:
        raise MalformedAuthorization(
            f"The authorization header is missing {missing.args[0]}"
        ) from None


def _signed_headers(text: str) -> tuple[str, ...]:
    names = tuple(text.split(";"))
    if not all(names) or "host" not in names:
        raise MalformedAuthorization("SignedHeaders must name host and may not be empty")
    return names


def canonical_query(query: Iterable[tuple[str, str]], skip: str | None = None) -> str:
    encoded = sorted((uri_encode(k), uri_encode(v)) for k, v in query if k != skip)
    return "&".join(f"{k}={v}" for k, v in encoded)


def canonical_headers(headers: Mapping[str, str], names: Iterable[str]) -> str:
    lines = []
    for name in names:
        value = headers.get(name)
        if value is None:
            raise MalformedAuthorization(f"The signed header {name!r} is not in the request")
        lines.append(f"{name}:{_SPACES.sub(' ', value.strip())}\n")
    return "".join(lines)


def canonical_request(
    request: HttpRequest,
    signed_headers: tuple[str, ...],
    payload_hash: str,
    skip_query: str | None = None,
) -> str:
    return "\n".join(
        (
            request.method,
            uri_encode(request.path, keep_slash=True),
            canonical_query(request.query, skip_query),
            canonical_headers(request.headers, signed_headers),
            ";".join(signed_headers),
            payload_hash,
        )
    )


def _sha256_hex(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


def string_to_sign(amz_date: str, scope: Scope, canonical: str) -> str:
    return f"{ALGORITHM}\n{amz_date}\n{scope.text}\n{_sha256_hex(canonical)}"


def signing_key(secret: str, scope: Scope) -> bytes:
    return _signing_key(secret, scope.date, scope.region, scope.service)


@functools.lru_cache(maxsize=1024)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """The same for a day: four HMACs saved on every request after the first."""
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def sign(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def chunk_string_to_sign(amz_date: str, scope: Scope, previous: str, chunk_sha256: str) -> str:
    """What each aws-chunked chunk's signature covers; the chain starts at the seed."""
    return (
        f"{ALGORITHM}-PAYLOAD\n{amz_date}\n{scope.text}\n{previous}\n{EMPTY_SHA256}\n{chunk_sha256}"
    )


def trailer_string_to_sign(amz_date: str, scope: Scope, previous: str, trailer: bytes) -> str:
    return f"{ALGORITHM}-TRAILER\n{amz_date}\n{scope.text}\n{previous}\n{_sha256_hex(trailer)}"


def is_payload_hash(value: str) -> bool:
    return bool(_HEX64.match(value))


def signatures_match(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret: str
    session_token: str | None = None


def presigned_query(request: HttpRequest, credentials: Credentials, region: str,
                    amz_date: str, expires: int) -> tuple[tuple[str, str], ...]:
    """The query of a presigned URL for `request` (its path, query and host header as
    they will arrive): the request's own pairs, then X-Amz-*, the signature last. Only
    the host is signed, so the caller may send any body and content type with it."""
    scope = Scope(credentials.access_key, amz_date[:8], region, "s3")
    pairs = (*request.query,
             ("X-Amz-Algorithm", ALGORITHM),
             ("X-Amz-Credential", f"{credentials.access_key}/{scope.text}"),
             ("X-Amz-Date", amz_date),
             ("X-Amz-Expires", str(expires)),
             ("X-Amz-SignedHeaders", "host"))
    if credentials.session_token:
        pairs += (("X-Amz-Security-Token", credentials.session_token),)
    unsigned = HttpRequest(request.method, request.path, pairs, request.headers)
    canonical = canonical_request(unsigned, ("host",), UNSIGNED_PAYLOAD)
    signature = sign(signing_key(credentials.secret, scope),
                     string_to_sign(amz_date, scope, canonical))
    return (*pairs, ("X-Amz-Signature", signature))


def encoded_target(path: str, query: Iterable[tuple[str, str]]) -> str:
    """The path and query of a URL, percent-encoded as SigV4 encodes them."""
    encoded = "&".join(f"{uri_encode(k)}={uri_encode(v)}" for k, v in query)
    return uri_encode(path, keep_slash=True) + (f"?{encoded}" if encoded else "")
