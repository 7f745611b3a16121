"""S3's server-side encryption headers (issue 25): what a write asks for (or the
bucket's default, or the store's), the sealer that encrypts its chunks, the key a read
needs, and the headers S3 answers with."""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from api.blocking import blocking
from api.s3.common import Call
from api.s3.errors import InvalidRequest
from api.sse import (
    SSE_C,
    SSE_KMS,
    SSE_S3,
    Sealing,
    customer_key_matches,
    new_sealing,
    sealed_version,
    unwrap_with_customer_key,
)
from domain.application import BucketInfo
from domain.errors import AccessDenied, CustomerKeyRequired, InvalidArgument
from domain.records import Version

HEADER = "x-amz-server-side-encryption"
COPY_SOURCE = "x-amz-copy-source-server-side-encryption"


@dataclass(frozen=True)
class CustomerKey:
    key: bytes
    md5: str  # base64, as S3 answers it


def customer_key(call: Call, prefix: str = HEADER) -> CustomerKey | None:
    """The SSE-C key a request sends (prefix: HEADER, or COPY_SOURCE for a copy's
    source), checked as S3 checks it."""
    algorithm = call.header(f"{prefix}-customer-algorithm")
    raw_key = call.header(f"{prefix}-customer-key")
    raw_md5 = call.header(f"{prefix}-customer-key-md5")
    if algorithm is None and raw_key is None and raw_md5 is None:
        return None
    if algorithm != "AES256":
        raise InvalidArgument("The requested encryption algorithm is not valid: use AES256")
    try:
        key = base64.b64decode(raw_key or "", validate=True)
    except (binascii.Error, ValueError):
        raise InvalidArgument("The secret key was invalid for the specified algorithm."
                              ) from None
    if len(key) != 32:
        raise InvalidArgument("The secret key was invalid for the specified algorithm.")
    md5 = base64.b64encode(hashlib.md5(key, usedforsecurity=False).digest()).decode()
    if raw_md5 is None or raw_md5.strip() != md5:
        raise InvalidArgument("The calculated MD5 hash of the key did not match the hash that "
                              "was provided.")
    if call.request.url.scheme != "https" and not call.system.settings.sse_c_allow_http:
        raise InvalidRequest("Requests specifying Server Side Encryption with Customer "
                             "provided keys must be made over a secure connection.")
    return CustomerKey(key, md5)


async def sealing_for(call: Call, info: BucketInfo) -> Sealing | None:
    """The encryption a new object gets: what its request asks for, else the bucket's
    default, else the store's; None for plaintext. Only a sealing reads the key service
    (in a worker thread): a plaintext PUT makes no extra hop."""
    requested = call.header(HEADER)
    sse_c = customer_key(call)
    if requested is not None and sse_c is not None:
        raise InvalidArgument("Server Side Encryption with Customer provided key is "
                              "incompatible with the encryption method specified")
    kms_key = call.header(f"{HEADER}-aws-kms-key-id")
    if requested is not None and requested not in (SSE_S3, SSE_KMS):
        raise InvalidArgument(f"The encryption method specified is not supported: "
                              f"{requested[:32]}")
    if kms_key is not None and requested != SSE_KMS:
        raise InvalidArgument(f"{HEADER}-aws-kms-key-id needs {HEADER}: aws:kms")
    mode = SSE_C if sse_c else requested
    if mode is None and info.encryption is not None:
        mode, kms_key = info.encryption["mode"], info.encryption.get("kms_key")
    if mode is None and call.system.settings.encryption_default:
        mode = call.system.settings.encryption_default
    if mode is None:
        return None
    return await blocking(new_sealing, call.system, mode, kms_key,
                          (sse_c.key, sse_c.md5) if sse_c else None)


def data_key_for(call: Call, version: Version, prefix: str = HEADER) -> bytes | None:
    """The key that opens a version's chunks (None: plaintext). SSE-C needs the key
    sent again, and the same one."""
    encryption = version.get("encryption")
    if encryption is None:
        return None
    if encryption["mode"] == SSE_C:
        sent = customer_key(call, prefix)
        if sent is None:
            raise InvalidRequest("The object was stored using a form of Server Side "
                                 "Encryption. The correct parameters must be provided to "
                                 "retrieve the object.")
        if not customer_key_matches(sent.key, encryption.get("customer_key_digest", ":")):
            raise AccessDenied("The provided encryption key does not match the key the "
                               "object was stored with")
        try:
            return unwrap_with_customer_key(sent.key, encryption["wrapped"])
        except CustomerKeyRequired as exc:
            raise AccessDenied(exc.message) from None
    return call.system.keys.unwrap(encryption["wrapped"])


def response_headers(version: Version) -> dict[str, str]:
    encryption = version.get("encryption")
    if encryption is None:
        return {}
    if encryption["mode"] == SSE_C:
        return {f"{HEADER}-customer-algorithm": "AES256",
                f"{HEADER}-customer-key-md5": encryption.get("customer_key_md5", "")}
    headers = {HEADER: encryption["mode"]}
    if encryption["mode"] == SSE_KMS:
        headers[f"{HEADER}-aws-kms-key-id"] = encryption["wrapped"]["key"]
    return headers


__all__ = ["customer_key", "data_key_for", "response_headers", "sealed_version",
           "sealing_for"]
