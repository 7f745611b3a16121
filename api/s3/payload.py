"""Request bodies as S3 clients send them: plain, or aws-chunked with signed chunks
and checksum trailers. Everything is checked as it streams; the caller records the
object only after the stream ended cleanly, so a bad body never becomes visible."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

from api.numbers import whole_number
from api.s3 import sigv4
from api.s3.auth import Caller, ChunkSigning
from api.s3.checksums import Checksum, algorithm_of_header, encoded, new_checksum
from api.s3.errors import BadDigest, InvalidChunkEncoding, InvalidRequest, SignatureDoesNotMatch

MAX_LINE = 4096


@dataclass
class ChecksumClaim:
    """One flexible checksum: its algorithm, the running value, and what the client said."""

    algorithm: str
    running: Checksum
    claimed: str | None = None  # from a header now, or from a trailer at the end
    in_trailer: bool = False

    def verify(self) -> str:
        """The checksum to store; BadDigest if it differs from the client's."""
        actual = encoded(self.running)
        if self.claimed is None:
            if self.in_trailer:
                raise InvalidRequest(f"The {self.algorithm} checksum trailer never arrived")
            return actual
        if actual != self.claimed:
            raise BadDigest(
                f"The {self.algorithm} you specified did not match the calculated checksum."
            )
        return actual


@dataclass
class Body:
    stream: AsyncIterator[bytes]
    decoded_length: int | None
    checksum: ChecksumClaim | None = None
    trailers: dict[str, str] = field(default_factory=dict)


def _claim_from_headers(headers: Mapping[str, str]) -> ChecksumClaim | None:
    for name, value in headers.items():
        algorithm = algorithm_of_header(name)
        if algorithm is not None:
            return ChecksumClaim(algorithm, new_checksum(algorithm), value)
    trailer = headers.get("x-amz-trailer", "").strip().lower()
    if trailer:
        algorithm = algorithm_of_header(trailer)
        if algorithm is None:
            raise InvalidRequest(f"The trailer {trailer!r} is not a supported checksum")
        return ChecksumClaim(algorithm, new_checksum(algorithm), in_trailer=True)
    sdk = headers.get("x-amz-sdk-checksum-algorithm", "").upper()
    if sdk:
        try:
            return ChecksumClaim(sdk, new_checksum(sdk))
        except ValueError:
            raise InvalidRequest(f"Checksum algorithm {sdk!r} is not supported") from None
    return None


def request_body(stream: AsyncIterator[bytes], headers: Mapping[str, str], caller: Caller) -> Body:
    """The decoded body, with its checksum claim wired in."""
    claim = _claim_from_headers(headers)
    if caller.payload_hash in sigv4.STREAMING_MODES:
        decoded_length = whole_number(headers.get("x-amz-decoded-content-length"))
        if decoded_length is None:
            raise InvalidRequest("aws-chunked uploads need x-amz-decoded-content-length")
        body = Body(stream, decoded_length, claim)
        body.stream = _checked(
            _decode_chunks(stream, caller.chunk_signing, caller.payload_hash, body), claim
        )
        return body
    return Body(_checked(stream, claim), whole_number(headers.get("content-length")), claim)


async def _checked(
    stream: AsyncIterator[bytes], claim: ChecksumClaim | None
) -> AsyncIterator[bytes]:
    async for piece in stream:
        if claim is not None:
            claim.running.update(piece)
        yield piece


class _Reader:
    """Pulls exact byte counts and CRLF lines off an async byte stream."""

    def __init__(self, stream: AsyncIterator[bytes]) -> None:
        self._stream = stream
        self._buffer = bytearray()
        self._done = False

    async def _fill(self) -> bool:
        if self._done:
            return False
        piece = b""
        while not piece:  # Starlette's stream ends with an empty piece
            try:
                piece = await anext(self._stream)
            except StopAsyncIteration:
                self._done = True
                return False
        self._buffer += piece
        return True

    async def line(self) -> bytes:
        while True:
            at = self._buffer.find(b"\r\n")
            if at >= 0:
                text = bytes(self._buffer[:at])
                del self._buffer[: at + 2]
                return text
            if len(self._buffer) > MAX_LINE:
                raise InvalidChunkEncoding("An aws-chunked header line is too long")
            if not await self._fill():
                raise InvalidChunkEncoding("The aws-chunked body ended early")

    async def take(self, size: int) -> AsyncIterator[bytes]:
        """Yield exactly `size` bytes, as they arrive."""
        while size > 0:
            if not self._buffer and not await self._fill():
                raise InvalidChunkEncoding("The aws-chunked body ended inside a chunk")
            piece = bytes(self._buffer[:size])
            del self._buffer[: len(piece)]
            size -= len(piece)
            yield piece

    async def at_end(self) -> bool:
        return not self._buffer and not await self._fill()


_HEX_SIZE = re.compile(r"[0-9a-fA-F]{1,16}")


def _chunk_header(line: bytes) -> tuple[int, str | None]:
    size_text, _, extension = line.decode("latin-1").partition(";")
    if not _HEX_SIZE.fullmatch(size_text.strip()):  # int(x, 16) takes "-5" and "0x5" too
        raise InvalidChunkEncoding(f"Bad aws-chunked size {size_text[:32]!r}")
    size = int(size_text.strip(), 16)
    signature = None
    if extension:
        name, _, value = extension.partition("=")
        if name.strip() == "chunk-signature":
            signature = value.strip()
    return size, signature


async def _decode_chunks(
    stream: AsyncIterator[bytes], signing: ChunkSigning | None, mode: str, body: Body
) -> AsyncIterator[bytes]:
    reader = _Reader(stream)
    previous = signing.seed if signing else ""
    signed = mode != sigv4.STREAMING_UNSIGNED_TRAILER
    while True:
        size, signature = _chunk_header(await reader.line())
        if signed and signing is not None and signature is None:
            raise SignatureDoesNotMatch("An aws-chunked chunk arrived without chunk-signature")
        digest = hashlib.sha256()
        async for piece in reader.take(size):
            digest.update(piece)
            yield piece
        if signed and signing is not None and signature is not None:
            expected = sigv4.sign(
                signing.key,
                sigv4.chunk_string_to_sign(
                    signing.amz_date, signing.scope, previous, digest.hexdigest()
                ),
            )
            if not sigv4.signatures_match(expected, signature):
                raise SignatureDoesNotMatch(
                    "The chunk signature we calculated does not match the one you provided."
                )
            previous = signature
        if size == 0:
            break
        if await reader.line() != b"":
            raise InvalidChunkEncoding("An aws-chunked chunk is not followed by CRLF")
    if mode == sigv4.STREAMING_SIGNED:
        await reader.line()  # the empty line after the final chunk
    else:
        await _read_trailers(reader, signing if signed else None, previous, body)
    if not await reader.at_end():
        raise InvalidChunkEncoding("Bytes follow the end of the aws-chunked body")


async def _read_trailers(
    reader: _Reader, signing: ChunkSigning | None, previous: str, body: Body
) -> None:
    canonical = b""
    signature = None
    while line := await reader.line():
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep:
            raise InvalidChunkEncoding("A trailer line has no ':'")
        name = name.strip().lower()
        if name == "x-amz-trailer-signature":
            signature = value.strip()
            continue
        body.trailers[name] = value.strip()
        canonical += f"{name}:{value.strip()}\n".encode()
    if signing is not None:
        if signature is None:
            raise SignatureDoesNotMatch("The trailer arrived without x-amz-trailer-signature")
        expected = sigv4.sign(
            signing.key,
            sigv4.trailer_string_to_sign(signing.amz_date, signing.scope, previous, canonical),
        )
        if not sigv4.signatures_match(expected, signature):
            raise SignatureDoesNotMatch(
                "The trailer signature we calculated does not match the one you provided."
            )
    claim = body.checksum
    if claim is not None:
        claim.claimed = body.trailers.get(f"x-amz-checksum-{claim.algorithm.lower()}")
