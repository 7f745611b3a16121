"""The events this process committed last, in log order, for its own followers.

A follower of the log (the projections, the workers) that has caught up to within
these takes them from memory, instead of selecting the rows it was just told about
and decoding their JSON again.

Sound only where every write to the event store passes through this process (the
embedded shape, as for the read cache): anywhere else other writers' events would be
missing from the window. Positions in the window are consecutive; an event that does
not follow the newest one starts the window again, and a follower outside the window
reads the store.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Committed:
    """A notification as its committer knew it: position, topic and the event itself.

    The event is the aggregate's own object. That is safe to share because events are
    frozen and aggregates replace, never mutate, the values events hold."""

    id: int
    topic: str
    domain_event: Any


class RecentEvents:
    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._window: list[Committed] = []
        self._lock = threading.Lock()

    def committed(self, entries: Iterable[Committed]) -> None:
        """Add newly committed events, in log order."""
        with self._lock:
            window = self._window
            for entry in entries:
                if window and entry.id != window[-1].id + 1:
                    window.clear()
                window.append(entry)
            if len(window) > 2 * self._capacity:
                del window[: len(window) - self._capacity]

    def after(self, start: int, limit: int) -> list[Committed] | None:
        """Up to `limit` events after position `start`, or None when the window cannot
        say (it starts later, or is empty): then the store must be read."""
        with self._lock:
            window = self._window
            if not window or not window[0].id - 1 <= start <= window[-1].id:
                return None
            offset = start + 1 - window[0].id
            return window[offset : offset + limit]
