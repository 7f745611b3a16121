"""Reading the event log as published records, and waking readers when it grows."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from domain.application import ObjectStore
from domain.envelope import EventFilter, envelope
from domain.errors import NotAvailable

# Clocks are read before a command takes its turn to commit, so log order and time
# order may disagree by a little; a search by time starts this much earlier.
CLOCK_SLACK = timedelta(seconds=5)


def read_records(
    store: ObjectStore, after: int, wanted: EventFilter, limit: int, scan_limit: int
) -> tuple[list[dict[str, Any]], int]:
    """Blocking: up to `limit` records after position `after` that `wanted` matches,
    reading at most `scan_limit` events; also the position read up to."""
    one_log(store)
    found: list[dict[str, Any]] = []
    position = after
    while len(found) < limit and position - after < scan_limit:
        batch = store.select_notifications(position, min(500, scan_limit))
        if not batch:
            break
        for notification in batch:
            position = notification.id
            record = envelope(store.decode(notification), notification.id)
            if wanted.matches(record):
                found.append(record)
                if len(found) == limit:
                    break
    return found, position


def position_before(store: ObjectStore, moment: datetime) -> int:
    """Blocking: a position after which every event at or after `moment` lies (a binary
    search over the log, O(log n) reads)."""
    one_log(store)
    target = moment - CLOCK_SLACK
    low, high = 0, store.recorder.max_notification_id() or 0
    while low < high:
        middle = (low + high + 1) // 2
        first = store.recorder.select_notifications(start=middle, limit=1)
        if not first or store.decode(first[0]).timestamp >= target:
            high = middle - 1
        else:
            low = first[0].id
    return low


def one_log(store: ObjectStore) -> None:
    if len(store.cells) > 1:  # a cursor is one log's position (decision 25)
        raise NotAvailable("The event stream and audit search read one event-store "
                           "cell's log; with several cells they are not built yet",
                           feature="event stream")


class CommitSignal:
    """Wakes asyncio readers after each commit this process makes (other processes'
    commits are found by the readers' periodic poll)."""

    def __init__(self, on_commit: Callable[[Callable[[int], None]], None]) -> None:
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        on_commit(self._committed)

    def _committed(self, _position: int) -> None:
        with self._lock:
            waiters = list(self._waiters)
        for loop, woken in waiters:
            loop.call_soon_threadsafe(woken.set)

    def subscribe(self) -> asyncio.Event:
        woken = asyncio.Event()
        with self._lock:
            self._waiters.add((asyncio.get_running_loop(), woken))
        return woken

    def unsubscribe(self, woken: asyncio.Event) -> None:
        with self._lock:
            self._waiters = {w for w in self._waiters if w[1] is not woken}
