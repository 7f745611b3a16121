"""ChunkPack: small chunks as rows of one SQLite file, not as a file each.

A file per 4 KiB chunk costs an inode, a directory entry and two flushes (the file's
and its directory's); creating an inode alone cost up to 1 ms of kernel CPU on this
machine's ext4. A row costs a few pages appended to the write-ahead log, and the rows
of concurrent uploads share one fsync (group commit). The guarantees are the chunk
files': a row is durable before `put` returns, named by its SHA-256, stored once
however often it is uploaded, and deleted only while idle (GC's race with an upload
that is about to reference it).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily

from domain.ports import StoredChunk
from domain.runtime.group_commit import Batched, GroupCommit

_SCHEMA = """
CREATE TABLE IF NOT EXISTS chunks (
    digest  TEXT PRIMARY KEY,
    data    BLOB NOT NULL,
    touched REAL NOT NULL  -- unix time it was last written or confirmed: its idle clock
)
"""
_PUT = (
    "INSERT INTO chunks (digest, data, touched) VALUES (?, ?, ?) "
    "ON CONFLICT (digest) DO UPDATE SET touched = excluded.touched"
)
_INVENTORY_PAGE = 512
_BUSY_MS = 60_000  # the two writing connections wait for each other, never fail


@dataclass
class _Put(Batched):
    digest: str
    data: bytes


class ChunkPack:
    def __init__(self, path: Path,
                 turn: Callable[[], AbstractContextManager[None]] | None = None) -> None:
        """`turn`: held around each write where other processes write the pack too."""
        self.path = path
        self._turn = turn or contextlib.nullcontext
        path.parent.mkdir(parents=True, exist_ok=True)
        # Puts are durable at commit; touches and deletes need not be (a lost touch
        # only shortens an idle time that references already protect, and a lost
        # delete is swept again), so they skip the fsync, which the next put makes.
        self._writer = self._connect("FULL")
        self._writer.execute(_SCHEMA)
        self._keeper = self._connect("NORMAL")
        self._keeper_lock = threading.Lock()
        self._group: GroupCommit[_Put] = GroupCommit(self._write)
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()

    def _connect(self, synchronous: str) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute(f"PRAGMA busy_timeout = {_BUSY_MS}")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute(f"PRAGMA synchronous = {synchronous}")
        return db

    def _reader(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = self._connect("NORMAL")
            self._local.db = db
            with self._readers_lock:
                self._readers.append(db)
        return db

    def put(self, digest: str, data: bytes) -> None:
        """Durable when it returns; a chunk already there only has its idle clock reset."""
        self._group.submit(_Put(digest=digest, data=data))

    def _write(self, batch: Sequence[_Put]) -> list[int]:
        # Only the group's leader is here, one at a time: the writer needs no lock.
        now = time.time()
        db = self._writer
        with self._turn():
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(_PUT, [(p.digest, p.data, now) for p in batch])
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        return [0] * len(batch)

    def read(self, digest: str) -> bytes | None:
        row = self._reader().execute(
            "SELECT data FROM chunks WHERE digest = ?", (digest,)
        ).fetchone()
        return None if row is None else bytes(row[0])

    def holds(self, digest: str) -> bool:
        found = self._reader().execute("SELECT 1 FROM chunks WHERE digest = ?", (digest,))
        return found.fetchone() is not None

    def touch(self, digest: str) -> bool:
        """Reset the chunk's idle clock; False if the pack does not hold it."""
        with self._keeper_lock:
            cursor = self._keeper.execute(
                "UPDATE chunks SET touched = ? WHERE digest = ?", (time.time(), digest)
            )
            return cursor.rowcount > 0

    def delete_if_idle(self, digest: str, idle_seconds: float) -> int | None:
        """Delete the chunk if idle at least that long; the bytes freed, or None if kept.
        The check and the delete are one statement, so an upload's put of the same
        chunk lands wholly before it (and keeps it) or wholly after (and writes it anew).
        """
        with self._keeper_lock:
            row = self._keeper.execute(
                "DELETE FROM chunks WHERE digest = ? AND touched <= ? RETURNING length(data)",
                (digest, time.time() - idle_seconds),
            ).fetchone()
        return None if row is None else int(row[0])

    def inventory(self) -> Iterator[StoredChunk]:
        """Every chunk, in pages of short reads: a sweep that takes minutes holds no
        read transaction open, which would stop the log from being checkpointed."""
        after = ""
        while True:
            now = time.time()
            rows = self._reader().execute(
                "SELECT digest, length(data), touched FROM chunks WHERE digest > ? "
                "ORDER BY digest LIMIT ?",
                (after, _INVENTORY_PAGE),
            ).fetchall()
            for digest, size, touched in rows:
                yield StoredChunk(digest, size, max(0.0, now - touched))
            if len(rows) < _INVENTORY_PAGE:
                return
            after = rows[-1][0]

    def close(self) -> None:
        with self._readers_lock:
            readers, self._readers = self._readers, []
        for db in [*readers, self._keeper, self._writer]:
            db.close()


class PackSizeCollector:
    """The pack's size on disk (its file and write-ahead log), at each scrape."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def collect(self) -> Iterator[GaugeMetricFamily]:
        size = 0
        for part in (self._path, self._path.with_name(self._path.name + "-wal")):
            with contextlib.suppress(FileNotFoundError):
                size += part.stat().st_size
        yield GaugeMetricFamily("strata_chunk_pack_bytes", "size on disk of the pack that "
                                "keeps small chunks (with its write-ahead log)", value=size)

