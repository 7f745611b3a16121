"""Table-driven tests of the S3 request parser: addressing, query decoding, routing,
and the aws-chunked decoder."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from starlette.requests import Request

from api.s3.addressing import decoded_query, locate
from api.s3.auth import Caller
from api.s3.errors import InvalidChunkEncoding
from api.s3.payload import request_body
from api.s3.sigv4 import STREAMING_UNSIGNED_TRAILER


def _request(path: bytes, query: bytes = b"", host: str = "127.0.0.1:9000",
             method: str = "GET") -> Request:
    return Request({
        "type": "http", "method": method, "path": path.decode(), "raw_path": path,
        "query_string": query, "headers": [(b"host", host.encode())],
    })


@pytest.mark.parametrize(("raw_path", "host", "bucket", "key"), [
    (b"/", "127.0.0.1:9000", "", ""),
    (b"/photos", "127.0.0.1:9000", "photos", ""),
    (b"/photos/", "127.0.0.1:9000", "photos", ""),
    (b"/photos/a/b.jpg", "127.0.0.1:9000", "photos", "a/b.jpg"),
    (b"/photos/a%20b%2Bc", "127.0.0.1:9000", "photos", "a b+c"),
    (b"/photos/%E6%97%A5%E6%9C%AC", "127.0.0.1:9000", "photos", "日本"),
    (b"/photos/..%2F..%2Fetc", "127.0.0.1:9000", "photos", "../../etc"),
    (b"/photos//double", "127.0.0.1:9000", "photos", "/double"),
    (b"/a/b.jpg", "photos.localhost:9000", "photos", "a/b.jpg"),
    (b"/", "photos.localhost", "photos", ""),
    (b"/photos/k", "localhost:9000", "photos", "k"),
    (b"/photos/k", "other.example:9000", "photos", "k"),
])
def test_addressing(raw_path: bytes, host: str, bucket: str, key: str) -> None:
    target = locate(_request(raw_path, host=host), "localhost")
    assert (target.bucket, target.key) == (bucket, key)


@pytest.mark.parametrize(("raw", "pairs"), [
    (b"", ()),
    (b"versioning", (("versioning", ""),)),
    (b"prefix=a%20b&delimiter=%2F", (("prefix", "a b"), ("delimiter", "/"))),
    (b"prefix=a+b", (("prefix", "a+b"),)),
    (b"list-type=2&prefix=", (("list-type", "2"), ("prefix", ""))),
    (b"x=%E2%9C%93", (("x", "✓"),)),
])
def test_query_decoding(raw: bytes, pairs: tuple[tuple[str, str], ...]) -> None:
    assert decoded_query(raw) == pairs


async def _pieces(data: bytes, size: int) -> AsyncIterator[bytes]:
    for at in range(0, len(data), size):
        yield data[at:at + size]
    yield b""


async def _decode(raw: bytes, piece_size: int, length: int) -> tuple[bytes, dict[str, str]]:
    headers = {"x-amz-decoded-content-length": str(length),
               "x-amz-trailer": "x-amz-checksum-crc32"}
    body = request_body(_pieces(raw, piece_size), headers, Caller(None, STREAMING_UNSIGNED_TRAILER))
    out = b"".join([piece async for piece in body.stream])
    return out, body.trailers


GOOD = b"5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n"


@pytest.mark.parametrize("piece_size", [1, 2, 7, 64, 4096])
def test_chunk_decoder_handles_any_split(piece_size: int) -> None:
    out, trailers = asyncio.run(_decode(GOOD, piece_size, 11))
    assert out == b"hello world"
    assert trailers == {"x-amz-checksum-crc32": "DUoRhQ=="}


@pytest.mark.parametrize("raw", [
    b"5\r\nhel",                                  # ends inside a chunk
    b"zz\r\nhello\r\n0\r\n\r\n",                  # size is not hex
    b"5\r\nhelloXX0\r\n\r\n",                     # no CRLF after the data
    GOOD + b"extra",                              # bytes after the end
    b"5\r\nhello\r\n0\r\nno-colon-here\r\n\r\n",  # a trailer without ':'
])
def test_chunk_decoder_refuses_broken_bodies(raw: bytes) -> None:
    with pytest.raises(InvalidChunkEncoding):
        asyncio.run(_decode(raw, 3, 5))
