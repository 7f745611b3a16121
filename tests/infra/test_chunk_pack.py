"""The embedded chunk store: small chunks as rows of a SQLite pack, large ones as files."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from domain.errors import ChunkUnavailable
from domain.records import Chunk
from infra.blobs.chunk_pack import ChunkPack
from infra.blobs.local_files import LocalDiskBlobStore
from infra.blobs.packed import PackedBlobStore
from infra.run.system import embedded_blobs
from infra.settings import Settings

SMALL = 1024


@pytest.fixture
def store(tmp_path: Path) -> Iterator[PackedBlobStore]:
    packed = PackedBlobStore(ChunkPack(tmp_path / "pack.sqlite3"),
                             LocalDiskBlobStore(tmp_path / "files"), small_bytes=SMALL)
    yield packed
    packed.close()


def _write(store: PackedBlobStore, *pieces: bytes) -> Chunk:
    sink = store.begin_chunk()
    for piece in pieces:
        sink.write(piece)
    return sink.commit()


def _read(store: PackedBlobStore, chunk: Chunk, start: int = 0, end: int | None = None) -> bytes:
    return b"".join(bytes(p) for p in store.read_chunk(chunk, start, end))


def _chunk_files(store: PackedBlobStore) -> set[str]:
    return {p.name for p in store.files.root.glob("??/*")}


def test_small_chunks_are_rows_of_the_pack_and_large_ones_are_files(
    store: PackedBlobStore,
) -> None:
    small_bytes, large_bytes = os.urandom(SMALL), os.urandom(SMALL + 1)
    small = _write(store, small_bytes[:100], small_bytes[100:])
    large = _write(store, large_bytes[:600], large_bytes[600:])  # spills at the second piece
    assert small == {"digest": hashlib.sha256(small_bytes).hexdigest(), "size": SMALL}
    assert large == {"digest": hashlib.sha256(large_bytes).hexdigest(), "size": SMALL + 1}
    assert store.pack.holds(small["digest"]) and not store.pack.holds(large["digest"])
    assert _chunk_files(store) == {large["digest"]}
    assert _read(store, small) == small_bytes
    assert _read(store, small, 10, 20) == small_bytes[10:20]
    assert _read(store, large, 500, 700) == large_bytes[500:700]
    assert {(c.digest, c.size) for c in store.inventory()} == {
        (small["digest"], SMALL), (large["digest"], SMALL + 1)}


def test_a_chunk_hashed_by_its_caller_takes_the_digest_it_is_given(
    store: PackedBlobStore,
) -> None:
    for data in (b"tiny", os.urandom(SMALL * 3)):
        digest = hashlib.sha256(data).hexdigest()
        sink = store.begin_chunk(hashed_by_caller=True)
        sink.write(data)
        assert sink.commit(digest) == {"digest": digest, "size": len(data)}
        assert _read(store, {"digest": digest, "size": len(data)}) == data


def test_a_chunk_whose_bytes_do_not_match_the_claimed_digest_is_refused_and_not_kept(
    store: PackedBlobStore,
) -> None:
    sink = store.begin_chunk()
    sink.write(b"what was sent")
    with pytest.raises(Exception, match="hash"):
        sink.commit(hashlib.sha256(b"what was claimed").hexdigest())
    assert list(store.inventory()) == []


def test_the_same_bytes_are_stored_once(store: PackedBlobStore) -> None:
    first, second = _write(store, b"twice"), _write(store, b"twice")
    assert first == second
    with contextlib.closing(sqlite3.connect(store.pack.path)) as db:
        assert db.execute("SELECT count(*) FROM chunks").fetchone() == (1,)


def test_only_an_idle_chunk_is_deleted_and_a_new_upload_of_it_writes_it_again(
    store: PackedBlobStore,
) -> None:
    chunk = _write(store, b"collectable")
    assert store.delete_if_idle(chunk["digest"], 3600) is None
    assert store.holds(chunk["digest"])
    time.sleep(0.01)
    assert store.delete_if_idle(chunk["digest"], 0.005) == len(b"collectable")
    assert not store.holds(chunk["digest"])
    with pytest.raises(ChunkUnavailable):
        store.confirm([chunk])
    # An upload that raced the sweep carries the bytes: its put brings the chunk back.
    assert _write(store, b"collectable") == chunk
    store.confirm([chunk])
    assert _read(store, chunk) == b"collectable"


def test_confirm_resets_the_idle_clock_of_a_chunk_put_earlier(store: PackedBlobStore) -> None:
    chunk = _write(store, b"confirmed later")
    time.sleep(0.2)  # longer ago than a put's own reset counts for
    [before] = [c for c in store.inventory() if c.digest == chunk["digest"]]
    store.confirm([chunk])
    [after] = [c for c in store.inventory() if c.digest == chunk["digest"]]
    assert before.idle_seconds >= 0.2 > after.idle_seconds


def test_a_corrupt_row_is_refused_on_read(store: PackedBlobStore) -> None:
    chunk = _write(store, b"bits that will rot")
    with contextlib.closing(sqlite3.connect(store.pack.path)) as db, db:
        db.execute("UPDATE chunks SET data = ? WHERE digest = ?",
                   (b"bits that will r0t", chunk["digest"]))
    with pytest.raises(ChunkUnavailable, match="corrupt"):
        _read(store, chunk)


def test_small_chunks_stored_as_files_before_the_pack_are_still_served_and_collected(
    store: PackedBlobStore,
) -> None:
    sink = store.files.begin_chunk()
    sink.write(b"from an older version")
    chunk = sink.commit()
    assert _read(store, chunk) == b"from an older version"
    store.confirm([chunk])
    assert store.holds(chunk["digest"])
    assert [c.digest for c in store.inventory()] == [chunk["digest"]]
    time.sleep(0.01)
    assert store.delete_if_idle(chunk["digest"], 0.005) == len(b"from an older version")
    assert not store.holds(chunk["digest"])


def test_concurrent_puts_are_all_kept(store: PackedBlobStore) -> None:
    bodies = [os.urandom(200) for _ in range(200)]
    with ThreadPoolExecutor(16) as pool:
        chunks = list(pool.map(lambda body: _write(store, body), bodies))
    for body, chunk in zip(bodies, chunks, strict=True):
        assert _read(store, chunk) == body


def test_the_setting_zero_keeps_every_chunk_in_files(tmp_path: Path) -> None:
    files_only = embedded_blobs(Settings(data_dir=tmp_path, small_chunk_bytes=0))
    assert isinstance(files_only, LocalDiskBlobStore)
    packed = embedded_blobs(Settings(data_dir=tmp_path))
    assert isinstance(packed, PackedBlobStore)
    packed.close()


_WRITER = textwrap.dedent("""
    import hashlib, os, sys, threading
    from pathlib import Path
    from infra.blobs.chunk_pack import ChunkPack

    pack = ChunkPack(Path(sys.argv[1]))
    lock = threading.Lock()

    def writer() -> None:
        while True:
            data = os.urandom(4096)
            digest = hashlib.sha256(data).hexdigest()
            pack.put(digest, data)
            with lock:  # acknowledged: durable from here on
                print(digest, flush=True)

    for _ in range(8):
        threading.Thread(target=writer, daemon=True).start()
    threading.Event().wait()
""")


def test_every_acknowledged_put_survives_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "pack.sqlite3"
    acknowledged: list[str] = []
    with subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE,
                          text=True, cwd=Path(__file__).parents[2]) as writer:
        assert writer.stdout is not None
        deadline = time.monotonic() + 30
        while len(acknowledged) < 300 and time.monotonic() < deadline:
            line = writer.stdout.readline()
            if not line:
                break
            acknowledged.append(line.strip())
        os.kill(writer.pid, signal.SIGKILL)
    assert len(acknowledged) >= 300, "the writer stopped before it was killed"
    reopened = ChunkPack(path)
    try:
        for digest in acknowledged:
            data = reopened.read(digest)
            assert data is not None and hashlib.sha256(data).hexdigest() == digest
    finally:
        reopened.close()
