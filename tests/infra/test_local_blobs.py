"""The local blob store's read path: every byte served is verified, hot or cold."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from pathlib import Path

import pytest

from api.blocking import query
from domain.errors import ChunkUnavailable
from domain.runtime.read_cache import NotInMemory, memory_only, must_not_block
from infra.blobs.local_files import DigestMismatch, HotChunks, LocalDiskBlobStore


def _store(blobs: LocalDiskBlobStore, data: bytes) -> dict[str, int | str]:
    sink = blobs.begin_chunk()
    sink.write(data)
    return dict(sink.commit())


def test_a_small_chunk_is_read_from_disk_once_then_from_memory(tmp_path: Path) -> None:
    blobs = LocalDiskBlobStore(tmp_path)
    chunk = _store(blobs, b"hello world")
    with memory_only(), pytest.raises(NotInMemory):
        b"".join(blobs.read_chunk(chunk))  # type: ignore[arg-type]
    assert b"".join(blobs.read_chunk(chunk, 6)) == b"world"  # type: ignore[arg-type]
    with memory_only():
        assert b"".join(blobs.read_chunk(chunk, 0, 5)) == b"hello"  # type: ignore[arg-type]


def test_a_rotten_small_chunk_is_refused_and_not_kept(tmp_path: Path) -> None:
    blobs = LocalDiskBlobStore(tmp_path)
    chunk = _store(blobs, b"hello world")
    blobs.path(str(chunk["digest"])).write_bytes(b"hellO world")
    with pytest.raises(ChunkUnavailable):
        b"".join(blobs.read_chunk(chunk))  # type: ignore[arg-type]
    with memory_only(), pytest.raises(NotInMemory):
        b"".join(blobs.read_chunk(chunk))  # type: ignore[arg-type]


def test_a_collected_chunk_leaves_memory_too(tmp_path: Path) -> None:
    blobs = LocalDiskBlobStore(tmp_path)
    chunk = _store(blobs, b"short-lived")
    b"".join(blobs.read_chunk(chunk))  # type: ignore[arg-type]
    assert blobs.delete_if_idle(str(chunk["digest"]), 0) == len(b"short-lived")
    with pytest.raises(ChunkUnavailable):
        b"".join(blobs.read_chunk(chunk))  # type: ignore[arg-type]


def test_large_chunks_are_never_answered_from_memory(tmp_path: Path) -> None:
    blobs = LocalDiskBlobStore(tmp_path)
    data = bytes(range(256)) * 2048  # 512 KiB
    chunk = _store(blobs, data)
    assert hashlib.sha256(b"".join(blobs.read_chunk(chunk))).hexdigest() == chunk["digest"]  # type: ignore[arg-type]
    with memory_only(), pytest.raises(NotInMemory):
        next(blobs.read_chunk(chunk))  # type: ignore[arg-type]


def test_hot_chunks_stay_within_their_budget() -> None:
    hot = HotChunks(10)
    for name in "abc":
        hot.put(name, name.encode() * 4)
    assert hot.get("a") is None
    assert hot.get("b") == b"bbbb" and hot.get("c") == b"cccc"


def test_query_runs_in_place_when_memory_suffices_and_in_a_thread_otherwise() -> None:
    loop_thread = threading.get_ident()
    kept = {"hit": 1}
    threads: list[int] = []

    def lookup(name: str) -> int:
        threads.append(threading.get_ident())
        if name not in kept:
            if must_not_block():
                raise NotInMemory
            kept[name] = 2
        return kept[name]

    async def both() -> tuple[int, int]:
        return await query(lookup, "hit"), await query(lookup, "miss")

    assert asyncio.run(both()) == (1, 2)
    assert threads[0] == loop_thread  # the hit never left the loop
    assert threads[-1] != loop_thread  # the miss was run again in a worker thread


@pytest.mark.parametrize("unnamed_files", [True, False])
def test_chunks_are_written_whole_under_their_digest_and_leave_no_temp_file(
    tmp_path: Path, unnamed_files: bool
) -> None:
    blobs = LocalDiskBlobStore(tmp_path, unnamed_files=unnamed_files)
    first = _store(blobs, b"same bytes")
    again = _store(blobs, b"same bytes")  # an identical chunk already there wins
    assert first == again
    assert blobs.path(str(first["digest"])).read_bytes() == b"same bytes"
    aborted = blobs.begin_chunk()
    aborted.write(b"never committed")
    aborted.abort()
    assert list(blobs.tmp_dir.iterdir()) == []
    assert [c.digest for c in blobs.inventory()] == [first["digest"]]


def test_an_uncommitted_unnamed_chunk_is_invisible(tmp_path: Path) -> None:
    blobs = LocalDiskBlobStore(tmp_path)
    sink = blobs.begin_chunk()
    sink.write(b"in flight")
    assert list(blobs.tmp_dir.iterdir()) == []  # a crash now would leave nothing behind
    assert list(blobs.inventory()) == []
    sink.commit()
    assert len(list(blobs.inventory())) == 1


@pytest.mark.parametrize("damage", ["rot", "truncate", "extend", "delete"])
def test_a_damaged_large_chunk_is_refused_before_any_byte(tmp_path: Path, damage: str) -> None:
    blobs = LocalDiskBlobStore(tmp_path)
    data = bytes(range(256)) * 4096  # 1 MiB: read through a mapping
    chunk = _store(blobs, data)
    path = blobs.path(str(chunk["digest"]))
    if damage == "rot":
        path.write_bytes(data[:-1] + b"\x00")
    elif damage == "truncate":
        path.write_bytes(data[: len(data) // 2])  # reading past a mapping's end would kill us
    elif damage == "extend":
        path.write_bytes(data + b"tail")
    else:
        path.unlink()
    pieces = blobs.read_chunk(chunk)  # type: ignore[arg-type]
    with pytest.raises(ChunkUnavailable):
        next(pieces)


def test_a_large_chunk_is_served_in_ranges_from_its_mapping(tmp_path: Path) -> None:
    blobs = LocalDiskBlobStore(tmp_path)
    data = hashlib.sha256(b"seed").digest() * (3 * 1024 * 1024 // 32 + 7)
    chunk = _store(blobs, data)
    pieces = list(blobs.read_chunk(chunk, 1000, len(data) - 5))  # type: ignore[arg-type]
    assert max(len(p) for p in pieces) <= 1024 * 1024
    assert b"".join(pieces) == data[1000:-5]


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
