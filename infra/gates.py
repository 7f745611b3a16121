"""In-process bucket gate: a readers-writer lock per bucket name."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager


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
