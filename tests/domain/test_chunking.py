"""ChunkWriter over a BlobStore (the in-memory one: every adapter keeps the same
contract, tests/contracts): chunk boundaries, digests and the object's hashes, however
the body arrives in pieces."""

from __future__ import annotations

import hashlib
import os

import pytest

from domain.chunking import ChunkWriter
from infra.blobs.memory import InMemoryBlobStore

CHUNK = 1000


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17])
@pytest.mark.parametrize("piece", [7, CHUNK, 2500])
@pytest.mark.parametrize("as_views", [False, True], ids=["bytes", "views"])
def test_every_chunk_is_stored_under_its_own_hash(size: int, piece: int,
                                                  as_views: bool) -> None:
    """Pieces come as bytes from a request, and as views of a mapped chunk when a copy
    reads another object's chunks."""
    blobs = InMemoryBlobStore()
    data = os.urandom(size)
    source = memoryview(data) if as_views else data
    writer = ChunkWriter(blobs, CHUNK)
    for at in range(0, size, piece):
        writer.feed(source[at:at + piece])
    content = writer.finish_checked(size)

    assert content["sha256"] == hashlib.sha256(data).hexdigest()
    assert content["etag"] == hashlib.md5(data, usedforsecurity=False).hexdigest()
    expected = [data[at:at + CHUNK] for at in range(0, size, CHUNK)]
    assert [c["size"] for c in content["chunks"]] == [len(e) for e in expected]
    for chunk, part in zip(content["chunks"], expected, strict=True):
        assert chunk["digest"] == hashlib.sha256(part).hexdigest()
        assert blobs.holds(chunk["digest"])
        assert b"".join(blobs.read_chunk(chunk)) == part
