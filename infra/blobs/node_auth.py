"""Requests between strata and its blob nodes are signed with the cluster secret.

Two forms, both HMAC-SHA256 over the method, the path, the query (every parameter but
the signature, sorted) and a time:
- headers `x-strata-date` (Unix seconds), `x-strata-nonce` (fresh for every request)
  and `x-strata-signature`, for strata's own calls: valid within CLOCK_SKEW of the
  node's clock, and once (the node remembers the nonces it has seen in that window);
- query `?expires=<Unix seconds>&grant=<id>&signature=...`, for the expiring URLs of a
  direct upload grant, valid until `expires` (a chunk PUT twice is the same chunk).
Bodies are not signed: a chunk is named by its SHA-256, and the node checks it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from urllib.parse import quote

CLOCK_SKEW = 300
MAX_NONCES = 2_000_000  # remembered at most; past it the oldest go first (and are stale)


def canonical_query(query: Mapping[str, str]) -> str:
    return "&".join(
        f"{quote(name, safe='')}={quote(value, safe='')}"
        for name, value in sorted(query.items())
        if name != "signature"
    )


def signature(secret: str, method: str, path: str, query: Mapping[str, str], stamp: int,
              nonce: str = "") -> str:
    message = f"{method.upper()}\n{path}\n{canonical_query(query)}\n{stamp}\n{nonce}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(secret: str, method: str, path: str,
                   query: Mapping[str, str] | None = None) -> dict[str, str]:
    stamp, nonce = int(time.time()), secrets.token_hex(16)
    return {"x-strata-date": str(stamp), "x-strata-nonce": nonce,
            "x-strata-signature": signature(secret, method, path, query or {}, stamp, nonce)}


def presigned_query(secret: str, method: str, path: str, expires: int,
                    extra: Mapping[str, str] | None = None) -> str:
    query = {**(extra or {}), "expires": str(expires)}
    signed = signature(secret, method, path, query, expires)
    return f"{canonical_query(query)}&signature={signed}"


class SeenNonces:
    """The nonces of signed requests within the clock window: a request replayed, with
    its query changed or not, is refused."""

    def __init__(self) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, nonce: str, now: float) -> bool:
        with self._lock:
            while self._seen and (
                next(iter(self._seen.values())) < now or len(self._seen) >= MAX_NONCES
            ):
                self._seen.popitem(last=False)
            if nonce in self._seen:
                return False
            self._seen[nonce] = now + 2 * CLOCK_SKEW
            return True


def verify(
    secret: str, method: str, path: str, headers: Mapping[str, str], query: Mapping[str, str],
    now: float, seen: SeenNonces,
) -> str | None:
    """None when the request is signed, in time and not a replay; else why it is refused."""
    if "signature" in query:
        raw = query.get("expires", "")
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 12):
            return "the expires parameter is not a number"
        expires = int(raw)
        if now > expires:
            return "the signed URL has expired"
        given, expected = query["signature"], signature(secret, method, path, query, expires)
        return None if hmac.compare_digest(given.encode(), expected.encode()) \
            else "the signature does not match"
    date, nonce = headers.get("x-strata-date"), headers.get("x-strata-nonce", "")
    if date is None or "x-strata-signature" not in headers or not 16 <= len(nonce) <= 64:
        return "the request is not signed with the cluster secret"
    if not (date.isascii() and date.isdigit() and len(date) <= 12):
        return "x-strata-date is not a number"
    stamp = int(date)
    if abs(now - stamp) > CLOCK_SKEW:
        return "x-strata-date is too far from the node's clock"
    expected = signature(secret, method, path, query, stamp, nonce)
    if not hmac.compare_digest(headers["x-strata-signature"].encode(), expected.encode()):
        return "the signature does not match"
    if not seen.first_time(nonce, now):
        return "the request was sent before (a replay)"
    return None
