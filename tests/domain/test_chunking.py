"""ChunkWriter over a real local blob store: chunk boundaries, digests and the object's
hashes, however the body arrives in pieces."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from domain.chunking import ChunkWriter
from infra.blobs.local_files import DigestMismatch, LocalDiskBlobStore

CHUNK = 1000


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17])
@pytest.mark.parametrize("piece", [7, CHUNK, 2500])
@pytest.mark.parametrize("as_views", [False, True], ids=["bytes", "views"])
def test_every_chunk_is_stored_under_its_own_hash(tmp_path: Path, size: int, piece: int,
                                                  as_views: bool) -> None:
    """Pieces come as bytes from a request, and as views of a mapped chunk when a copy
    reads another object's chunks."""
    blobs = LocalDiskBlobStore(tmp_path)
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
        assert blobs.path(chunk["digest"]).read_bytes() == part
        assert b"".join(blobs.read_chunk(chunk)) == part


def test_a_sink_that_hashes_refuses_a_wrong_claim_and_keeps_nothing(tmp_path: Path) -> None:
    blobs = LocalDiskBlobStore(tmp_path)
    sink = blobs.begin_chunk()
    sink.write(b"payload")
    with pytest.raises(DigestMismatch):
        sink.commit(hashlib.sha256(b"other").hexdigest())
    assert not blobs.holds(hashlib.sha256(b"payload").hexdigest())
    assert list(blobs.tmp_dir.iterdir()) == []


def test_a_sink_hashed_by_its_caller_needs_the_digest(tmp_path: Path) -> None:
    blobs = LocalDiskBlobStore(tmp_path)
    sink = blobs.begin_chunk(hashed_by_caller=True)
    sink.write(b"payload")
    with pytest.raises(ValueError, match="needs the digest"):
        sink.commit()
    assert list(blobs.tmp_dir.iterdir()) == []
