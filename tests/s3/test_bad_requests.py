"""Bad input at the protocol level: each gets its S3 error, and nothing is stored."""

from __future__ import annotations

import base64
import hashlib
import socket
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from botocore.exceptions import ClientError

from api.s3 import sigv4
from tests.conftest import ROOT_AK, ROOT_SK, Server


def _signed_headers(
    method: str, url: str, payload_hash: str, extra: dict[str, str] | None = None,
    when: datetime | None = None,
) -> dict[str, str]:
    """Headers for a request signed by SigV4, as a client would send them."""
    moment = when or datetime.now(UTC)
    amz_date = moment.strftime("%Y%m%dT%H%M%SZ")
    parts = urlsplit(url)
    headers = {"host": parts.netloc, "x-amz-date": amz_date,
               "x-amz-content-sha256": payload_hash, **(extra or {})}
    scope = sigv4.Scope(ROOT_AK, amz_date[:8], "us-east-1", "s3")
    names = tuple(sorted(headers))
    query = tuple((k, v) for k, _, v in (p.partition("=") for p in parts.query.split("&") if p))
    request = sigv4.HttpRequest(method, parts.path, query, headers)
    canonical = sigv4.canonical_request(request, names, payload_hash)
    signature = sigv4.sign(sigv4.signing_key(ROOT_SK, scope),
                           sigv4.string_to_sign(amz_date, scope, canonical))
    headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={ROOT_AK}/{scope.text}, "
                                f"SignedHeaders={';'.join(names)}, Signature={signature}")
    return headers


def _error_code(response: httpx.Response) -> str:
    text = response.text
    return text[text.index("<Code>") + 6: text.index("</Code>")]


def _absent(s3: Any, bucket: str, key: str) -> bool:
    return key not in [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_clock_skew_beyond_15_minutes_is_refused(s3_server: Server, s3: Any, bucket: str) -> None:
    url = f"{s3_server.s3}/{bucket}/skewed"
    body = b"late"
    headers = _signed_headers("PUT", url, hashlib.sha256(body).hexdigest(),
                              when=datetime.now(UTC) - timedelta(minutes=20))
    response = httpx.put(url, content=body, headers=headers)
    assert response.status_code == 403 and _error_code(response) == "RequestTimeTooSkewed"
    assert _absent(s3, bucket, "skewed")


def test_a_body_that_does_not_match_its_signed_hash_is_refused(
    s3_server: Server, s3: Any, bucket: str
) -> None:
    url = f"{s3_server.s3}/{bucket}/tampered"
    headers = _signed_headers("PUT", url, hashlib.sha256(b"original").hexdigest())
    response = httpx.put(url, content=b"tampered", headers=headers)
    assert response.status_code == 400 and _error_code(response) == "XAmzContentSHA256Mismatch"
    assert _absent(s3, bucket, "tampered")
    good = _signed_headers("PUT", url, hashlib.sha256(b"original").hexdigest())
    assert httpx.put(url, content=b"original", headers=good).status_code == 200


def test_missing_content_sha256_and_content_length(s3_server: Server, bucket: str) -> None:
    url = f"{s3_server.s3}/{bucket}/no-length"
    headers = _signed_headers("PUT", url, sigv4.UNSIGNED_PAYLOAD)

    def stream() -> Any:
        yield b"streamed without a length"

    response = httpx.put(url, content=stream(), headers=headers)
    assert response.status_code == 411 and _error_code(response) == "MissingContentLength"
    headers = _signed_headers("PUT", url, sigv4.UNSIGNED_PAYLOAD)
    headers.pop("x-amz-content-sha256")
    response = httpx.put(url, content=b"x", headers=headers)
    assert response.status_code == 400 and _error_code(response) == "InvalidRequest"


def test_content_md5_and_checksum_mismatches_are_bad_digests(s3: Any, bucket: str) -> None:
    wrong_md5 = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="md5", Body=b"body", ContentMD5=wrong_md5)
    assert exc.value.response["Error"]["Code"] == "BadDigest"
    wrong_crc = base64.b64encode(zlib.crc32(b"other").to_bytes(4, "big")).decode()
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="crc", Body=b"body", ChecksumCRC32=wrong_crc)
    assert exc.value.response["Error"]["Code"] == "BadDigest"
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="md5", Body=b"body", ContentMD5="not base64!")
    assert exc.value.response["Error"]["Code"] == "InvalidDigest"
    assert _absent(s3, bucket, "md5") and _absent(s3, bucket, "crc")


def _chunked_body(
    chunks: list[bytes], seed: str, amz_date: str, trailer: bytes | None = None,
    tamper: bool = False,
) -> bytes:
    scope = sigv4.Scope(ROOT_AK, amz_date[:8], "us-east-1", "s3")
    key = sigv4.signing_key(ROOT_SK, scope)
    previous, out = seed, b""
    for data in [*chunks, b""]:
        signature = sigv4.sign(key, sigv4.chunk_string_to_sign(
            amz_date, scope, previous, hashlib.sha256(data).hexdigest()))
        sent = data.replace(b"a", b"b") if tamper and data else data
        out += f"{len(data):x};chunk-signature={signature}\r\n".encode() + sent
        out += b"\r\n" if data else b""
        previous = signature
    if trailer is None:
        return out + b"\r\n"
    trailer_signature = sigv4.sign(key, sigv4.trailer_string_to_sign(
        amz_date, scope, previous, trailer))
    return out + trailer.replace(b"\n", b"\r\n") + (
        f"x-amz-trailer-signature:{trailer_signature}\r\n\r\n".encode())


@pytest.mark.parametrize("mode", [sigv4.STREAMING_SIGNED, sigv4.STREAMING_SIGNED_TRAILER])
def test_signed_aws_chunked_uploads(s3_server: Server, s3: Any, bucket: str, mode: str) -> None:
    chunks = [b"a" * 70000, b"a" * 1000]
    data = b"".join(chunks)
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    trailer = f"x-amz-checksum-crc32:{crc}\n".encode() if mode.endswith("TRAILER") else None
    extra = {"content-encoding": "aws-chunked",
             "x-amz-decoded-content-length": str(len(data))}
    if trailer:
        extra["x-amz-trailer"] = "x-amz-checksum-crc32"
    for key, tamper in (("chunked-bad", True), ("chunked", False)):
        url = f"{s3_server.s3}/{bucket}/{key}"
        headers = _signed_headers("PUT", url, mode, extra)
        seed = headers["authorization"].rsplit("Signature=", 1)[1]
        body = _chunked_body(chunks, seed, headers["x-amz-date"], trailer, tamper)
        response = httpx.put(url, content=body, headers=headers)
        if tamper:
            assert response.status_code == 403
            assert _error_code(response) == "SignatureDoesNotMatch"
        else:
            assert response.status_code == 200, response.text
    assert s3.get_object(Bucket=bucket, Key="chunked")["Body"].read() == data
    assert _absent(s3, bucket, "chunked-bad")


def test_unsigned_trailer_with_a_wrong_checksum_is_refused(
    s3_server: Server, s3: Any, bucket: str
) -> None:
    url = f"{s3_server.s3}/{bucket}/trailed"
    data = b"trailer body"
    wrong = base64.b64encode(zlib.crc32(b"nope").to_bytes(4, "big")).decode()
    headers = _signed_headers("PUT", url, sigv4.STREAMING_UNSIGNED_TRAILER, {
        "content-encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data)),
        "x-amz-trailer": "x-amz-checksum-crc32"})
    body = f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\n" + (
        f"x-amz-checksum-crc32:{wrong}\r\n\r\n".encode())
    response = httpx.put(url, content=body, headers=headers)
    assert response.status_code == 400 and _error_code(response) == "BadDigest"
    assert _absent(s3, bucket, "trailed")


def test_malformed_xml_is_refused(s3_server: Server, bucket: str) -> None:
    url = f"{s3_server.s3}/{bucket}?versioning"
    for body in (b"<VersioningConfiguration><Status>Enabled", b"<Other/>",
                 b'<!DOCTYPE x [<!ENTITY a "aaaa">]><VersioningConfiguration>&a;'
                 b"</VersioningConfiguration>",
                 b"<VersioningConfiguration><Status>Maybe</Status></VersioningConfiguration>"):
        headers = _signed_headers("PUT", url, hashlib.sha256(body).hexdigest())
        response = httpx.put(url, content=body, headers=headers)
        assert response.status_code == 400, response.text
        assert _error_code(response) == "MalformedXML"
    versioning = httpx.get(url, headers=_signed_headers("GET", url, sigv4.EMPTY_SHA256))
    assert b"<Status>" not in versioning.content


def test_a_cut_upload_stores_nothing(s3_server: Server, s3: Any, bucket: str) -> None:
    url = f"{s3_server.s3}/{bucket}/cut"
    headers = _signed_headers("PUT", url, sigv4.UNSIGNED_PAYLOAD, {"content-length": "100000"})
    request = f"PUT /{bucket}/cut HTTP/1.1\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    with socket.create_connection(("127.0.0.1", s3_server.s3_port), timeout=10) as conn:
        conn.sendall(request.encode() + b"x" * 5000)
    s3.put_object(Bucket=bucket, Key="after", Body=b"still fine")
    assert _absent(s3, bucket, "cut")
