"""Group commit: saves that arrive while a transaction is being written share the next
one, so N concurrent writes cost one fsync instead of N.

Leader/follower: the first saver with no commit in flight leads. It takes every save
queued so far, writes them in one transaction, hands each its outcome, then passes the
lead to the oldest save that queued meanwhile. Nothing waits on a timer: batches form
only from saves that would otherwise wait for the disk anyway.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from eventsourcing.domain import Aggregate


def _held_lock() -> threading.Lock:
    lock = threading.Lock()
    lock.acquire()
    return lock


@dataclass(kw_only=True)
class Batched:
    """One writer's share of a group-committed transaction, and how it went."""

    position: int = 0
    error: BaseException | None = None
    lead: bool = False
    # Released once, when the unit is written or handed the lead: a bare lock, since
    # an Event's Condition costs every follower of every batch a pass through Python.
    wake: threading.Lock = field(default_factory=_held_lock)


@dataclass
class Unit(Batched):
    """One save: the events of its aggregates, taken out of them once, so that a failed
    batch can be written again unit by unit without losing any."""

    aggregates: tuple[Aggregate, ...]
    events: list[Any]

    @classmethod
    def of(cls, aggregates: Sequence[Aggregate]) -> Unit:
        return cls(tuple(aggregates), [e for a in aggregates for e in a.collect_events()])


B = TypeVar("B", bound=Batched)


class GroupCommit(Generic[B]):
    """`write(batch)` writes one transaction and returns, per unit, the position it got
    (the newest store position of a save of events; anything for other writers)."""

    def __init__(self, write: Callable[[Sequence[B]], list[int]]) -> None:
        self._write = write
        self._lock = threading.Lock()
        self._queue: list[B] = []
        self._busy = False

    def submit(self, unit: B) -> int:
        """Blocks until the unit is durable; its position."""
        with self._lock:
            self._queue.append(unit)
            if not self._busy:
                self._busy = unit.lead = True
        if not unit.lead:
            unit.wake.acquire()
        if unit.lead:  # led from the start, or handed the lead while queued
            self._lead(unit)
        if unit.error is not None:
            raise unit.error
        return unit.position

    def _lead(self, leader: B) -> None:
        with self._lock:
            batch, self._queue = self._queue, []
        self._commit(batch, leader)
        with self._lock:
            if self._queue:
                successor = self._queue[0]
                successor.lead = True
                successor.wake.release()
            else:
                self._busy = False

    def _commit(self, batch: list[B], leader: B) -> None:
        try:
            self._write_all(batch)
        finally:
            for unit in batch:
                if unit is not leader:  # the leader is awake; the rest never woke yet
                    unit.wake.release()

    def _write_all(self, batch: list[B]) -> None:
        try:
            positions = self._write(batch)
        except BaseException as exc:
            if len(batch) == 1:
                batch[0].error = exc
                return
            # One unit spoiled the transaction (most often two saves of the same
            # aggregate): write each alone, so only the spoiler fails.
            for unit in batch:
                try:
                    unit.position = self._write([unit])[0]
                except BaseException as alone:
                    unit.error = alone
            return
        for unit, position in zip(batch, positions, strict=True):
            unit.position = position


class Turns:
    """One lock per key, made on demand and dropped when nobody holds or awaits it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[Hashable, tuple[threading.Lock, int]] = {}

    @contextmanager
    def turn(self, key: Hashable) -> Iterator[None]:
        with self._lock:
            lock, users = self._held.get(key, (threading.Lock(), 0))
            self._held[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._lock:
                lock, users = self._held[key]
                if users == 1:
                    del self._held[key]
                else:
                    self._held[key] = (lock, users - 1)
