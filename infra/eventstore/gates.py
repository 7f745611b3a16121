"""Bucket gates: a readers-writer lock per bucket name, in-process (embedded), as file
locks (the workers of `serve --workers N` sharing SQLite) or as a PostgreSQL advisory
lock (API instances sharing a store)."""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from psycopg_pool import ConnectionPool


class _RWLock:
    """Many shared holders or one exclusive holder; a waiting writer blocks new readers."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


class LocalBucketGate:
    """BucketGate for one process that is the only writer (the embedded shape)."""

    def __init__(self) -> None:
        self._locks: dict[str, _RWLock] = {}
        self._guard = threading.Lock()

    def _lock(self, bucket: str) -> _RWLock:
        with self._guard:
            return self._locks.setdefault(bucket, _RWLock())

    def shared(self, bucket: str) -> AbstractContextManager[None]:
        return self._lock(bucket).shared()

    def exclusive(self, bucket: str) -> AbstractContextManager[None]:
        return self._lock(bucket).exclusive()


class FileBucketGate:
    """BucketGate for the worker processes of one data dir: this process's own
    readers-writer lock, then a shared or exclusive flock on one of `slots` lock files
    the bucket name hashes to (two names may share a file: a deletion then waits for
    the other bucket's writes too, which is only slower). The kernel lets go of a
    killed process's locks."""

    def __init__(self, directory: Path, slots: int = 1024) -> None:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._directory = directory
        self._slots = slots
        self._local = LocalBucketGate()

    def _path(self, bucket: str) -> str:
        slot = int.from_bytes(hashlib.blake2b(bucket.encode(), digest_size=8).digest(),
                              "big") % self._slots
        return str(self._directory / f"{slot:04d}.lock")

    @contextmanager
    def _held(self, bucket: str, local: AbstractContextManager[None], mode: int
              ) -> Iterator[None]:
        with local:
            # a descriptor of its own: flock on a shared one would convert its lock
            fd = os.open(self._path(bucket), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, mode)
                yield
            finally:
                os.close(fd)  # lets go of the lock

    def shared(self, bucket: str) -> AbstractContextManager[None]:
        return self._held(bucket, self._local.shared(bucket), fcntl.LOCK_SH)

    def exclusive(self, bucket: str) -> AbstractContextManager[None]:
        return self._held(bucket, self._local.exclusive(bucket), fcntl.LOCK_EX)


class PostgresBucketGate:
    """BucketGate for API instances sharing one PostgreSQL store: a session-level
    advisory lock per bucket, shared for object commits, exclusive for the bucket's
    deletion, so a write through one instance cannot land in a bucket that another
    instance is deleting."""

    def __init__(self, conninfo: str, max_connections: int = 32) -> None:
        self._pool = ConnectionPool(conninfo, min_size=1, max_size=max_connections,
                                    kwargs={"autocommit": True}, open=True)

    @staticmethod
    def _key(bucket: str) -> int:
        return int.from_bytes(hashlib.blake2b(bucket.encode(), digest_size=8).digest(), "big",
                              signed=True)

    @contextmanager
    def _held(self, bucket: str, mode: str) -> Iterator[None]:
        key = self._key(bucket)
        with self._pool.connection() as db:
            db.execute(f"SELECT pg_advisory_lock{mode}(%s)", (key,))
            try:
                yield
            finally:
                db.execute(f"SELECT pg_advisory_unlock{mode}(%s)", (key,))

    def shared(self, bucket: str) -> AbstractContextManager[None]:
        return self._held(bucket, "_shared")

    def exclusive(self, bucket: str) -> AbstractContextManager[None]:
        return self._held(bucket, "")

    def close(self) -> None:
        self._pool.close()


class FileTurn:
    """One process at a time writes a file several processes share (the workers of
    `serve --workers N`): an exclusive flock, which a waiter gets the moment it is let
    go, where SQLite's own wait for its lock sleeps and tries again."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self._local = threading.Lock()  # one descriptor: its threads take turns first

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._local:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

