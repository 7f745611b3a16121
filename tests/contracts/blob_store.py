"""The BlobStore contract (domain/ports.py), one suite for every adapter.

A subclass gives the `blobs` fixture (a fresh, empty store) and `rot(blobs, digest)`,
which damages a stored chunk's bytes the way a disk would; every test below then runs
against that adapter, as eventsourcing's recorder suites run against each database.
"""

from __future__ import annotations

import hashlib
import os
import time
from typing import Any

import pytest

from domain.errors import ChunkUnavailable, StrataError
from domain.ports import BlobStore
from domain.records import Chunk

SMALL = 100  # bytes: a chunk pack keeps these as rows
LARGE = 300_000  # bytes: a chunk pack keeps these as files; large reads are mapped


def write(blobs: BlobStore, data: bytes, pieces: int = 3, claim: str | None = None) -> Chunk:
    sink = blobs.begin_chunk()
    step = max(1, len(data) // pieces)
    for start in range(0, len(data), step):
        sink.write(data[start : start + step])
    return sink.commit(claim)


def read(blobs: BlobStore, chunk: Chunk, start: int = 0, end: int | None = None) -> bytes:
    return b"".join(bytes(piece) for piece in blobs.read_chunk(chunk, start, end))


class BlobStoreContract:
    def rot(self, blobs: Any, digest: str) -> None:
        raise NotImplementedError

    @pytest.mark.parametrize("size", [SMALL, LARGE])
    def test_a_chunk_reads_back_whole_and_in_ranges_under_its_sha256(
        self, blobs: BlobStore, size: int
    ) -> None:
        data = os.urandom(size)
        chunk = write(blobs, data)
        assert chunk == {"digest": hashlib.sha256(data).hexdigest(), "size": size}
        assert blobs.holds(chunk["digest"])
        assert read(blobs, chunk) == data
        assert read(blobs, chunk, 10, 60) == data[10:60]
        assert read(blobs, chunk, size - 5) == data[size - 5 :]

    def test_a_caller_that_hashed_the_bytes_names_the_digest(self, blobs: BlobStore) -> None:
        data = os.urandom(SMALL)
        sink = blobs.begin_chunk(hashed_by_caller=True)
        sink.write(data)
        digest = hashlib.sha256(data).hexdigest()
        assert sink.commit(digest) == {"digest": digest, "size": SMALL}
        assert read(blobs, {"digest": digest, "size": SMALL}) == data

    def test_a_caller_that_hashed_the_bytes_must_name_the_digest(self, blobs: BlobStore) -> None:
        sink = blobs.begin_chunk(hashed_by_caller=True)
        sink.write(b"payload")
        with pytest.raises(ValueError, match="needs the digest"):
            sink.commit()
        assert list(blobs.inventory()) == []

    def test_bytes_that_do_not_match_the_claimed_digest_are_refused_and_not_kept(
        self, blobs: BlobStore
    ) -> None:
        claimed = hashlib.sha256(b"what was promised").hexdigest()
        with pytest.raises(StrataError):
            write(blobs, b"something else entirely", claim=claimed)
        assert not blobs.holds(claimed)
        assert claimed not in {c.digest for c in blobs.inventory()}

    def test_an_aborted_chunk_leaves_nothing(self, blobs: BlobStore) -> None:
        data = os.urandom(SMALL)
        sink = blobs.begin_chunk()
        sink.write(data)
        sink.abort()
        assert not blobs.holds(hashlib.sha256(data).hexdigest())
        assert list(blobs.inventory()) == []

    def test_the_same_bytes_are_stored_once(self, blobs: BlobStore) -> None:
        data = os.urandom(SMALL)
        first, second = write(blobs, data), write(blobs, data, pieces=1)
        assert first == second
        assert [c.digest for c in blobs.inventory()] == [first["digest"]]

    def test_the_inventory_lists_every_chunk_once_with_its_size(self, blobs: BlobStore) -> None:
        chunks = [write(blobs, os.urandom(size)) for size in (SMALL, SMALL + 1, LARGE)]
        listed = {c.digest: c.size for c in blobs.inventory()}
        assert listed == {c["digest"]: c["size"] for c in chunks}

    @pytest.mark.parametrize("size", [SMALL, LARGE])
    def test_a_rotten_chunk_is_refused_never_served(self, blobs: BlobStore, size: int) -> None:
        data = os.urandom(size)
        chunk = write(blobs, data)
        self.rot(blobs, chunk["digest"])
        with pytest.raises(ChunkUnavailable):
            read(blobs, chunk)

    def test_a_missing_chunk_is_unavailable_to_read_and_to_confirm(
        self, blobs: BlobStore
    ) -> None:
        missing: Chunk = {"digest": hashlib.sha256(b"never stored").hexdigest(), "size": 12}
        assert not blobs.holds(missing["digest"])
        with pytest.raises(ChunkUnavailable):
            read(blobs, missing)
        with pytest.raises(ChunkUnavailable):
            blobs.confirm([missing])

    def test_only_an_idle_chunk_is_deleted(self, blobs: BlobStore) -> None:
        data = os.urandom(SMALL)
        chunk = write(blobs, data)
        assert blobs.delete_if_idle(chunk["digest"], 3600) is None
        assert blobs.holds(chunk["digest"])
        time.sleep(0.05)
        freed = blobs.delete_if_idle(chunk["digest"], 0.01)
        assert freed is not None and freed > 0 and freed % SMALL == 0  # once a replica
        assert not blobs.holds(chunk["digest"])
        assert blobs.delete_if_idle(chunk["digest"], 0) is None  # gone already

    def test_confirming_a_chunk_resets_its_idle_clock(self, blobs: BlobStore) -> None:
        chunk = write(blobs, os.urandom(SMALL))
        time.sleep(1.1)  # node and file clocks count whole or fractional seconds
        [before] = [c for c in blobs.inventory() if c.digest == chunk["digest"]]
        blobs.confirm([chunk])
        [after] = [c for c in blobs.inventory() if c.digest == chunk["digest"]]
        assert before.idle_seconds >= 1.0 > after.idle_seconds
        assert blobs.delete_if_idle(chunk["digest"], 1.0) is None
