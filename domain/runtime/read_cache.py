"""A cache of aggregates for queries, kept right by the commits of its own process,
and by the commit marks of the others where several processes write one store
(`serve --workers N`, domain.ports.CommitMarks).

Sound only where every write to the event store passes through an ObjectStore that
invalidates it: the embedded shape, one process or the workers of one data directory.
Commands never read from it; they load aggregates from the store and so keep their
optimistic-concurrency checks.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import Any, TypeVar
from uuid import UUID

T = TypeVar("T")
_memory_only: ContextVar[bool] = ContextVar("memory_only", default=False)
# Where other processes write the store too (PostgreSQL): the cells whose cached
# aggregates may answer this request. Set once a request, after a look at their heads.
_fresh: ContextVar[frozenset[int]] = ContextVar("reads_fresh", default=frozenset())


class NotInMemory(Exception):
    """A query under `memory_only()` needed I/O: run it again where it may block."""


class _MemoryOnly:
    """A plain class, not @contextmanager: entered on every query of the event loop,
    where a generator's frame costs more than the rest of it."""

    __slots__ = ("_token",)

    def __enter__(self) -> None:
        self._token = _memory_only.set(True)

    def __exit__(self, *exc: object) -> None:
        _memory_only.reset(self._token)


def memory_only() -> _MemoryOnly:
    """Queries inside answer from memory or raise NotInMemory, so an event loop can
    run them in place and send only the misses to a thread."""
    return _MemoryOnly()


def must_not_block() -> bool:
    return _memory_only.get()


def set_reads_fresh(cells: frozenset[int]) -> None:
    """For the rest of this request (its asyncio task): in each of `cells`, the process
    has applied every change committed before the request began, by any process, to
    its cache, so aggregates kept from those cells are current enough to answer it."""
    _fresh.set(cells)


def reads_are_fresh(cell: int) -> bool:
    return cell in _fresh.get()


class ReadCache:
    """LRU of aggregate id -> aggregate. A load that overlapped a commit to the same
    aggregate is served but not kept: it may hold the state from before the commit.
    With `marks` (other processes write too), a kept aggregate is served only while
    its commit mark is the one seen before it was loaded."""

    def __init__(self, maxsize: int, marks: Any = None) -> None:
        self._maxsize = maxsize
        self._marks = marks  # None: this process makes every write
        # id -> (aggregate, the commit mark seen before loading it, or None)
        self._entries: OrderedDict[UUID, tuple[Any, tuple[int, int] | None]] = OrderedDict()
        self._lock = threading.Lock()
        self._epoch = 0  # counts commits seen
        self._committed_at: OrderedDict[UUID, int] = OrderedDict()  # id -> epoch of last commit
        self._forgotten_epoch = 0  # the newest epoch dropped from _committed_at

    def get(self, aggregate_id: UUID, load: Callable[[], T], serve_kept: bool = True) -> T:
        """The kept aggregate, else `load()`'s, kept; with `serve_kept` False, loaded in
        any case (and kept): the kept one may be older than the request."""
        with self._lock:
            try:
                if serve_kept:
                    return self._hit(aggregate_id)  # type: ignore[no-any-return]
                raise NotInMemory
            except NotInMemory:
                started = self._epoch
        # before loading: a later mark is news
        stamp = self._marks.stamp(aggregate_id) if self._marks is not None else None
        value = load()
        with self._lock:
            if self._last_commit(aggregate_id) <= started:
                self._entries[aggregate_id] = (value, stamp)
                if len(self._entries) > self._maxsize:
                    self._entries.popitem(last=False)
        return value

    def peek(self, aggregate_id: UUID) -> Any:
        with self._lock:
            return self._hit(aggregate_id)

    def _hit(self, aggregate_id: UUID) -> Any:
        """The kept aggregate, now the most recently used; call with the lock held."""
        try:
            self._entries.move_to_end(aggregate_id)
        except KeyError:
            raise NotInMemory from None
        value, stamp = self._entries[aggregate_id]
        if stamp is not None and self._marks.stamp(aggregate_id) != stamp:
            # another process committed to it since it was loaded
            del self._entries[aggregate_id]
            raise NotInMemory
        return value

    def committed(self, aggregate_ids: Iterable[UUID]) -> None:
        """Call after a commit: its aggregates are stale here from now on."""
        with self._lock:
            self._epoch += 1
            for aggregate_id in aggregate_ids:
                self._entries.pop(aggregate_id, None)
                self._committed_at[aggregate_id] = self._epoch
                self._committed_at.move_to_end(aggregate_id)
            while len(self._committed_at) > self._maxsize:
                _, epoch = self._committed_at.popitem(last=False)
                self._forgotten_epoch = max(self._forgotten_epoch, epoch)

    def _last_commit(self, aggregate_id: UUID) -> int:
        return self._committed_at.get(aggregate_id, self._forgotten_epoch)


class NoReadCache:
    """No cache: every query loads."""

    def get(self, aggregate_id: UUID, load: Callable[[], T], serve_kept: bool = True) -> T:
        return load()

    def peek(self, aggregate_id: UUID) -> Any:
        raise NotInMemory

    def committed(self, aggregate_ids: Iterable[UUID]) -> None:
        pass
