"""LogFollower: the in-process worker runner (embedded shape).

Follows the notification log from its tracked position and calls a plain handler
for each event (each cell's log, where the event store has several: architecture
decision 25, a tracked position per cell). A failing handler is retried with
backoff; when it keeps failing the event goes to the dead-letter list with its error,
is logged, and counted, and the follower moves on. Nothing is dropped silently.
Delivery is at least once, so handlers must be idempotent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson

from domain.application import ObjectStore
from projections.base import ViewStore
from projections.runner import tracking_name
from workers.delivery import RetryPolicy

log = logging.getLogger("strata.workers")
DEAD_LETTER_PREFIX = b"D/"


class LogFollower:
    def __init__(
        self,
        name: str,
        store: ObjectStore,
        state: ViewStore,
        handler: Callable[[Any], None],
        attempts: int = 5,
        backoff_seconds: float = 0.05,
        poll_seconds: float = 0.5,
        settle_seconds: float = 0.0,
    ) -> None:
        """`settle_seconds`: how long events gather after a catch-up before the next. A
        follower that need not be prompt (garbage collection) then wakes a few times a
        second under load, not once a commit, and takes the events in larger batches."""
        self.name = f"worker:{name}"
        self._logs = store.cells
        self._names = [tracking_name(self.name, cell) for cell in range(len(self._logs))]
        self._positions = [state.position(tracked) for tracked in self._names]
        self._state = state
        self._handler = handler
        self._policy = RetryPolicy(attempts, backoff_seconds)
        self._poll = poll_seconds
        self._settle = settle_seconds
        self.dead_letters = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def position(self) -> int:
        """How far it has handled the (home cell's) log."""
        return self._positions[0]

    def catch_up(self) -> int:
        for cell, source in enumerate(self._logs):
            while not self._stop.is_set():
                notifications = source.select_notifications(self._positions[cell], 200)
                if not notifications:
                    break
                for notification in notifications:
                    self._deliver(notification.id, source.decode(notification), cell)
                # Once a batch: a crash redelivers at most the batch, and handlers are
                # idempotent (one write an event cost as much as the handling).
                self._positions[cell] = notifications[-1].id
                self._state.commit({}, {self._names[cell]: self._positions[cell]})
        return self.position

    def _deliver(self, position: int, event: Any, cell: int) -> None:
        failed = self._policy.deliver(self.name, self._handler, event, position, self._stop.wait)
        if failed is not None:
            self._dead_letter(position, event, failed, cell)

    def _dead_letter(self, position: int, event: Any, exc: Exception, cell: int) -> None:
        self.dead_letters += 1
        record = {
            "worker": self.name,
            "position": position,
            "type": type(event).__qualname__,
            "error": repr(exc),
            "time": time.time(),
        }
        if cell:
            record["cell"] = cell
        key = (DEAD_LETTER_PREFIX + self._names[cell].encode() + b"/"
               + b"%020d" % position)
        self._state.commit({key: orjson.dumps(record)}, {})

    def wake(self, _position: int = 0) -> None:
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.catch_up()
            except Exception:
                log.exception("%s: reading the log failed; retrying", self.name)
                self._stop.wait(1.0)
            if self._settle:
                self._stop.wait(self._settle)
            self._wake.wait(self._poll)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


def dead_letters(state: ViewStore) -> list[dict[str, Any]]:
    return [
        orjson.loads(v) for _, v in state.scan(DEAD_LETTER_PREFIX, DEAD_LETTER_PREFIX + b"\xff")
    ]
