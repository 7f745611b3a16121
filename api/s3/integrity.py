"""Checks that a body is what the client said it is: x-amz-content-sha256,
Content-MD5 and a flexible checksum. Run after the body was stored as chunks and
before the version is recorded, so a failed check leaves only orphans for GC."""

from __future__ import annotations

import base64
import binascii
import hashlib

from api.s3 import sigv4
from api.s3.checksums import algorithm_of_header
from api.s3.common import Call
from api.s3.errors import BadDigest, ContentSHA256Mismatch, InvalidDigest, MalformedXML
from api.s3.payload import Body, request_body
from api.s3.xml import MAX_XML_BYTES
from domain.records import Content


def _content_md5(call: Call) -> bytes | None:
    raw = call.header("content-md5")
    if raw is None:
        return None
    try:
        digest = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidDigest("The Content-MD5 you specified is not valid.") from None
    if len(digest) != 16:
        raise InvalidDigest("The Content-MD5 you specified is not valid.")
    return digest


def verify(call: Call, body: Body, sha256_hex: str, md5_hex: str) -> dict[str, str]:
    """Raise on any mismatch; return the flexible checksum to keep, if any."""
    declared = call.caller.payload_hash
    if sigv4.is_payload_hash(declared) and declared != sha256_hex:
        raise ContentSHA256Mismatch(
            "The provided 'x-amz-content-sha256' header does not match what was computed."
        )
    expected_md5 = _content_md5(call)
    if expected_md5 is not None and expected_md5.hex() != md5_hex:
        raise BadDigest("The Content-MD5 you specified did not match what we received.")
    if body.checksum is None:
        return {}
    return {body.checksum.algorithm: body.checksum.verify()}


def verify_content(call: Call, body: Body, content: Content) -> dict[str, str]:
    return verify(call, body, content["sha256"], content["etag"])


async def read_small_body(call: Call, names_the_object: bool = False) -> bytes:
    """A body for XML calls: bounded in size, and checked like any other body.
    `names_the_object`: its x-amz-checksum-* headers are the checksum of an object the
    call makes (CompleteMultipartUpload), not of this body."""
    _content_md5(call)
    headers = call.headers
    if names_the_object:
        headers = {k: v for k, v in headers.items() if algorithm_of_header(k) is None}
    body = request_body(call.request.stream(), headers, call.caller)
    data = bytearray()
    async for piece in body.stream:
        data += piece
        if len(data) > MAX_XML_BYTES:
            raise MalformedXML("The XML you provided is too large")
    raw = bytes(data)
    verify(
        call,
        body,
        hashlib.sha256(raw).hexdigest(),
        hashlib.md5(raw, usedforsecurity=False).hexdigest(),
    )
    return raw
