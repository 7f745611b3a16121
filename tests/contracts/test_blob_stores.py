"""The BlobStore contract against the embedded adapters: memory, chunk files, the chunk
pack. The blob-node adapter runs it in tests/nodes/test_blob_contract.py."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.blobs.chunk_pack import ChunkPack
from infra.blobs.local_files import LocalDiskBlobStore
from infra.blobs.memory import InMemoryBlobStore
from infra.blobs.packed import PackedBlobStore
from tests.contracts.blob_store import SMALL, BlobStoreContract


def rot_file(path: Path) -> None:
    with path.open("r+b") as f:  # in place, as rot does: same length, same inode
        byte = f.read(1)
        f.seek(0)
        f.write(bytes([byte[0] ^ 0xFF]))


class TestInMemoryBlobStore(BlobStoreContract):
    @pytest.fixture
    def blobs(self) -> InMemoryBlobStore:
        return InMemoryBlobStore()

    def rot(self, blobs: InMemoryBlobStore, digest: str) -> None:
        blobs.corrupt(digest)


class TestChunkFiles(BlobStoreContract):
    @pytest.fixture
    def blobs(self, tmp_path: Path) -> LocalDiskBlobStore:
        return LocalDiskBlobStore(tmp_path / "chunks", hot_bytes=0)

    def rot(self, blobs: LocalDiskBlobStore, digest: str) -> None:
        rot_file(blobs.path(digest))


class TestChunkPack(BlobStoreContract):
    @pytest.fixture
    def blobs(self, tmp_path: Path) -> Iterator[PackedBlobStore]:
        packed = PackedBlobStore(ChunkPack(tmp_path / "pack.sqlite3"),
                                 LocalDiskBlobStore(tmp_path / "files", hot_bytes=0),
                                 small_bytes=SMALL, hot_bytes=0)
        yield packed
        packed.close()

    def rot(self, blobs: PackedBlobStore, digest: str) -> None:
        with contextlib.closing(sqlite3.connect(blobs.pack.path)) as db, db:
            row = db.execute("SELECT data FROM chunks WHERE digest = ?", (digest,)).fetchone()
            if row is not None:
                data = bytes(row[0])
                db.execute("UPDATE chunks SET data = ? WHERE digest = ?",
                           (bytes([data[0] ^ 0xFF]) + data[1:], digest))
                return
        rot_file(blobs.files.path(digest))
