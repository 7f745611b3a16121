"""Splitting a byte stream into content-addressed chunks through the BlobStore port."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from domain.errors import IncompleteBody
from domain.ports import BlobStore, ChunkSealer, ChunkSink, Piece
from domain.records import Chunk, Content


class ChunkWriter:
    """Bytes in, durable chunks out: splits at the chunk size, hashing MD5 and SHA-256."""

    def __init__(self, blobs: BlobStore, chunk_size: int,
                 sealer: ChunkSealer | None = None) -> None:
        """With a `sealer`, chunks hold sealed frames (server-side encryption): a chunk
        is still `chunk_size` plaintext bytes, named by the hash of what is stored, and
        `plain_sizes` says how much plaintext each holds."""
        self._blobs = blobs
        self._chunk_size = chunk_size
        self._sealer = sealer
        self._frame = bytearray()
        self.plain_sizes: list[int] = []
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sha256 = hashlib.sha256()
        self._sink: ChunkSink | None = None
        self._in_chunk = 0
        self.size = 0
        self.chunks: list[Chunk] = []

    def feed(self, data: Piece) -> None:
        self._md5.update(data)
        self.size += len(data)
        if self._sealer is not None:
            self._feed_sealed(data)
            return
        view = memoryview(data)
        while view:
            if self._sink is None:
                # The first chunk's hash is the object's hash so far: SHA-256 runs once
                # over it (most objects are one chunk); later chunks hash themselves.
                self._sink = self._blobs.begin_chunk(hashed_by_caller=not self.chunks)
                self._in_chunk = 0
            take = min(len(view), self._chunk_size - self._in_chunk)
            piece = data if take == len(data) else bytes(view[:take])
            self._sha256.update(piece)
            self._sink.write(piece)
            self._in_chunk += take
            view = view[take:]
            if self._in_chunk == self._chunk_size:
                self._seal()

    def _feed_sealed(self, data: Piece) -> None:
        """Plaintext hashes go to the object's SHA-256 and MD5; each full frame is sealed
        and written; a chunk ends every `chunk_size` plaintext bytes."""
        assert self._sealer is not None
        self._sha256.update(data)
        view = memoryview(data)
        frame = self._sealer.frame
        while view:
            if self._sink is None:
                self._sink = self._blobs.begin_chunk()
                self._in_chunk = 0
            take = min(len(view), frame - len(self._frame),
                       self._chunk_size - self._in_chunk - len(self._frame))
            self._frame += view[:take]
            view = view[take:]
            if len(self._frame) == frame or \
                    self._in_chunk + len(self._frame) == self._chunk_size:
                self._flush_frame()
            if self._in_chunk == self._chunk_size:
                self._seal()

    def _flush_frame(self) -> None:
        if self._frame and self._sink is not None and self._sealer is not None:
            index = self._in_chunk // self._sealer.frame
            self._sink.write(self._sealer.seal(bytes(self._frame), index))
            self._in_chunk += len(self._frame)
            self._frame = bytearray()

    def _seal(self) -> None:
        if self._sealer is not None:
            self._flush_frame()
            if self._sink is not None:
                self.chunks.append(self._sink.commit(None))
                self.plain_sizes.append(self._in_chunk)
                self._sink = None
            return
        if self._sink is not None:
            first = not self.chunks
            self.chunks.append(self._sink.commit(self._sha256.hexdigest() if first else None))
            self._sink = None

    def finish(self) -> Content:
        self._seal()
        content: Content = {
            "size": self.size,
            "etag": self._md5.hexdigest(),
            "sha256": self._sha256.hexdigest(),
            "chunks": self.chunks,
        }
        if self._sealer is not None:
            content["plain_sizes"] = self.plain_sizes
        return content

    def finish_checked(self, expected_size: int | None) -> Content:
        """`finish`, after checking the body had the size its sender announced."""
        if expected_size is not None and self.size != expected_size:
            raise IncompleteBody(
                f"The body had {self.size} bytes, but Content-Length said {expected_size}",
                received=self.size,
                expected=expected_size,
            )
        return self.finish()

    def abort(self) -> None:
        if self._sink is not None:
            self._sink.abort()
            self._sink = None


def store_pieces(pieces: Iterable[bytes], blobs: BlobStore, chunk_size: int) -> Content:
    """Blocking: every piece into chunks; on failure nothing is referenced (GC collects)."""
    work = ChunkWriter(blobs, chunk_size)
    try:
        for piece in pieces:
            work.feed(piece)
        return work.finish()
    except BaseException:
        work.abort()
        raise
