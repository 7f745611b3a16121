"""AWS Signature Version 2, which boto3 still uses for presigned URLs in us-east-1
and some tools use in headers. Pure functions, like sigv4."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping

SUBRESOURCES = frozenset(
    {
        "accelerate",
        "acl",
        "cors",
        "defaultObjectAcl",
        "delete",
        "lifecycle",
        "location",
        "logging",
        "notification",
        "partNumber",
        "policy",
        "replication",
        "requestPayment",
        "restore",
        "tagging",
        "torrent",
        "uploadId",
        "uploads",
        "versionId",
        "versioning",
        "versions",
        "website",
        "analytics",
        "metrics",
        "inventory",
        "select",
        "select-type",
        "object-lock",
        "storageClass",
        "response-content-type",
        "response-content-language",
        "response-expires",
        "response-cache-control",
        "response-content-disposition",
        "response-content-encoding",
    }
)


def canonical_resource(raw_path: str, query: Iterable[tuple[str, str]]) -> str:
    """The path as sent (still percent-encoded) plus the sub-resources, sorted."""
    picked = sorted((k, v) for k, v in query if k in SUBRESOURCES)
    if not picked:
        return raw_path
    return raw_path + "?" + "&".join(f"{k}={v}" if v else k for k, v in picked)


def string_to_sign(
    method: str,
    headers: Mapping[str, str],
    date_or_expires: str,
    resource: str,
) -> str:
    amz = sorted((k, v.strip()) for k, v in headers.items() if k.startswith("x-amz-"))
    lines = [
        method,
        headers.get("content-md5", "").strip(),
        headers.get("content-type", "").strip(),
        date_or_expires,
        *(f"{k}:{v}" for k, v in amz),
        resource,
    ]
    return "\n".join(lines)


def sign(secret: str, text: str) -> str:
    digest = hmac.new(secret.encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()
