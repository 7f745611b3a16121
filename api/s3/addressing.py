"""Where an S3 request points: bucket and key from the path or the Host header."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from starlette.requests import Request

from api.s3.sigv4 import HttpRequest


@dataclass(frozen=True)
class Target:
    bucket: str  # "" for the service (ListBuckets)
    key: str  # "" for a bucket
    query: dict[str, str]  # first value of each parameter, decoded
    signed: HttpRequest  # the request as SigV4 sees it
    resource: str  # "/bucket/key" still percent-encoded, as SigV2 signs it


def decoded_query(raw: bytes) -> tuple[tuple[str, str], ...]:
    """Parameters as sent: '+' stays '+', since S3 clients encode spaces as %20."""
    pairs = []
    for part in raw.decode("utf-8", "surrogateescape").split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((unquote(name) if "%" in name else name,
                          unquote(value) if "%" in value else value))
    return tuple(pairs)


def _host_bucket(host: str, domain: str) -> str | None:
    name = host.rsplit(":", 1)[0].lower() if not host.startswith("[") else ""
    if domain and name.endswith("." + domain):
        return name[: -len(domain) - 1]
    return None


def locate(request: Request, domain: str) -> Target:
    raw_path = request.scope.get("raw_path") or request.scope["path"].encode()
    sent_path = raw_path.decode("utf-8", "surrogateescape")
    path = unquote(sent_path)
    pairs = decoded_query(request.scope.get("query_string", b""))
    headers = _signing_headers(request)
    signed = HttpRequest(request.method, path, pairs, headers)
    query: dict[str, str] = {}
    for name, value in pairs:
        query.setdefault(name, value)
    host_bucket = _host_bucket(headers.get("host", ""), domain)
    if host_bucket is not None:
        return Target(host_bucket, path[1:], query, signed, f"/{host_bucket}{sent_path}")
    bucket, _, key = path[1:].partition("/")
    return Target(bucket, key, query, signed, sent_path)


def _signing_headers(request: Request) -> dict[str, str]:
    headers: dict[str, str] = {}
    for raw_name, raw_value in request.scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    return headers
