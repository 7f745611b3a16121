"""Splitting a byte stream into content-addressed chunks through the BlobStore port."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from domain.errors import IncompleteBody
from domain.ports import BlobStore, ChunkSink, Piece
from domain.records import Chunk, Content


class ChunkWriter:
    """Bytes in, durable chunks out: splits at the chunk size, hashing MD5 and SHA-256."""

    def __init__(self, blobs: BlobStore, chunk_size: int) -> None:
        self._blobs = blobs
        self._chunk_size = chunk_size
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sha256 = hashlib.sha256()
        self._sink: ChunkSink | None = None
        self._in_chunk = 0
        self.size = 0
        self.chunks: list[Chunk] = []

    def feed(self, data: Piece) -> None:
        self._md5.update(data)
        self.size += len(data)
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

    def _seal(self) -> None:
        if self._sink is not None:
            first = not self.chunks
            self.chunks.append(self._sink.commit(self._sha256.hexdigest() if first else None))
            self._sink = None

    def finish(self) -> Content:
        self._seal()
        return {
            "size": self.size,
            "etag": self._md5.hexdigest(),
            "sha256": self._sha256.hexdigest(),
            "chunks": self.chunks,
        }

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
