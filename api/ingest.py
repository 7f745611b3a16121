"""Streaming ingest: a request body into durable chunks, hashing as it goes.

The body is never held in memory: pieces are gathered up to 1 MiB, then a worker
thread feeds them to a ChunkWriter.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TypeVar

from api.blocking import blocking
from domain.chunking import ChunkWriter
from domain.ports import BlobStore, ChunkSealer, Piece
from domain.records import Content

FLUSH_BYTES = 1024 * 1024
T = TypeVar("T")


async def ingest(
    body: AsyncIterator[Piece], blobs: BlobStore, chunk_size: int, expected_size: int | None,
    sealer: ChunkSealer | None = None,
) -> Content:
    """Store `body` as chunks; IncompleteBody if it ends short of `expected_size`.

    Chunks already committed when an upload fails are unreferenced: GC collects them.
    """
    return await ingest_then(body, blobs, chunk_size, expected_size, _as_is, sealer)


async def ingest_then(
    body: AsyncIterator[Piece],
    blobs: BlobStore,
    chunk_size: int,
    expected_size: int | None,
    then: Callable[[Content], T],
    sealer: ChunkSealer | None = None,
) -> T:
    """`ingest`, then `then(content)` (blocking: it may record the object) in the same
    thread hop as the last chunk: a small PUT makes one hop, not two."""
    work = ChunkWriter(blobs, chunk_size, sealer)
    pending: list[Piece] = []
    pending_size = 0
    try:
        async for piece in body:
            pending.append(piece)
            pending_size += len(piece)
            if pending_size >= FLUSH_BYTES:
                await blocking(_feed, work, pending)
                pending, pending_size = [], 0
        # The tail, the seal and `then` in one hop: for a small body it is the only one.
        return await blocking(_finish, work, pending, expected_size, then)
    except BaseException:
        await blocking(work.abort)
        raise


def _feed(work: ChunkWriter, pieces: list[Piece]) -> None:
    # Piece by piece, not joined: a join copies every byte once more.
    for piece in pieces:
        work.feed(piece)


def _finish(
    work: ChunkWriter, tail: list[Piece], expected_size: int | None, then: Callable[[Content], T]
) -> T:
    _feed(work, tail)
    return then(work.finish_checked(expected_size))


def _as_is(content: Content) -> Content:
    return content
