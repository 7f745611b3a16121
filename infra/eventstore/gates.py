"""Bucket gates: a readers-writer lock per bucket name, in-process (embedded) or as a
PostgreSQL advisory lock (API instances sharing a store)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

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
