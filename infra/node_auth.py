"""Requests between strata and its blob nodes are signed with the cluster secret.

Two forms, both HMAC-SHA256 over the method, the path and a time:
- headers `x-strata-date` (Unix seconds) and `x-strata-signature`, for strata's own
  calls; valid within CLOCK_SKEW of the node's clock;
- query `?expires=<Unix seconds>&signature=...`, for the expiring URLs of a direct
  upload grant, valid until `expires`.
Bodies are not signed: a chunk is named by its SHA-256, and the node checks it.
"""

from __future__ import annotations

import hashlib
import hmac
import time

CLOCK_SKEW = 300


def signature(secret: str, method: str, path: str, stamp: int) -> str:
    message = f"{method.upper()}\n{path}\n{stamp}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(secret: str, method: str, path: str) -> dict[str, str]:
    stamp = int(time.time())
    return {"x-strata-date": str(stamp),
            "x-strata-signature": signature(secret, method, path, stamp)}


def presigned_query(secret: str, method: str, path: str, expires: int) -> str:
    return f"expires={expires}&signature={signature(secret, method, path, expires)}"


def verify(
    secret: str, method: str, path: str, headers: dict[str, str], query: dict[str, str],
    now: float,
) -> str | None:
    """None when the request is signed and in time; else why it is refused."""
    if "signature" in query:
        try:
            expires = int(query.get("expires", ""))
        except ValueError:
            return "the expires parameter is not a number"
        if now > expires:
            return "the signed URL has expired"
        given, expected = query["signature"], signature(secret, method, path, expires)
    else:
        raw = headers.get("x-strata-date")
        if raw is None or "x-strata-signature" not in headers:
            return "the request is not signed with the cluster secret"
        try:
            stamp = int(raw)
        except ValueError:
            return "x-strata-date is not a number"
        if abs(now - stamp) > CLOCK_SKEW:
            return "x-strata-date is too far from the node's clock"
        given, expected = headers["x-strata-signature"], signature(secret, method, path, stamp)
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return "the signature does not match"
    return None
