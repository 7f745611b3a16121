"""Streaming ingest: a request body into durable chunks, hashing as it goes.

The body is never held in memory: pieces are gathered up to 1 MiB, then a worker
thread feeds them to a ChunkWriter.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from api.blocking import blocking
from domain.chunking import ChunkWriter
from domain.ports import BlobStore
from domain.records import Content

FLUSH_BYTES = 1024 * 1024


async def ingest(
    body: AsyncIterator[bytes], blobs: BlobStore, chunk_size: int, expected_size: int | None
) -> Content:
    """Store `body` as chunks; IncompleteBody if it ends short of `expected_size`.

    Chunks already committed when an upload fails are unreferenced: GC collects them.
    """
    work = ChunkWriter(blobs, chunk_size)
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
