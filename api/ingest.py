"""Streaming ingest: a request body into durable chunks, hashing as it goes.

The body is never held in memory: pieces are gathered up to 1 MiB, then a worker
thread writes them into the current chunk file and updates MD5 and SHA-256.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

from api.blocking import blocking
from domain.errors import IncompleteBody
from domain.ports import BlobStore, ChunkSink
from domain.records import Chunk, Content

FLUSH_BYTES = 1024 * 1024


class _Ingest:
    def __init__(self, blobs: BlobStore, chunk_size: int) -> None:
        self._blobs = blobs
        self._chunk_size = chunk_size
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sha256 = hashlib.sha256()
        self._sink: ChunkSink | None = None
        self._in_chunk = 0
        self.size = 0
        self.chunks: list[Chunk] = []

    def feed(self, data: bytes) -> None:
        self._md5.update(data)
        self._sha256.update(data)
        self.size += len(data)
        view = memoryview(data)
        while view:
            if self._sink is None:
                self._sink = self._blobs.begin_chunk()
                self._in_chunk = 0
            take = min(len(view), self._chunk_size - self._in_chunk)
            self._sink.write(bytes(view[:take]))
            self._in_chunk += take
            view = view[take:]
            if self._in_chunk == self._chunk_size:
                self._seal()

    def _seal(self) -> None:
        if self._sink is not None:
            self.chunks.append(self._sink.commit())
            self._sink = None

    def finish(self) -> Content:
        self._seal()
        return {
            "size": self.size,
            "etag": self._md5.hexdigest(),
            "sha256": self._sha256.hexdigest(),
            "chunks": self.chunks,
        }

    def finish_with(self, tail: bytes, expected_size: int | None) -> Content:
        if tail:
            self.feed(tail)
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


async def ingest(
    body: AsyncIterator[bytes], blobs: BlobStore, chunk_size: int, expected_size: int | None
) -> Content:
    """Store `body` as chunks; IncompleteBody if it ends short of `expected_size`.

    Chunks already committed when an upload fails are unreferenced: GC collects them.
    """
    work = _Ingest(blobs, chunk_size)
    pending: list[bytes] = []
    pending_size = 0
    try:
        async for piece in body:
            pending.append(piece)
            pending_size += len(piece)
            if pending_size >= FLUSH_BYTES:
                await blocking(work.feed, b"".join(pending))
                pending, pending_size = [], 0
        # The tail and the seal in one hop: for a small body it is the only one.
        return await blocking(work.finish_with, b"".join(pending), expected_size)
    except BaseException:
        await blocking(work.abort)
        raise
