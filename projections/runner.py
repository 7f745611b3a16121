"""ProjectionRunner: follows the notification log and keeps views current.

Woken by the store's commit signal (SQLite has no subscriptions) and by a short poll
for writers in other processes. `wait_for(position)` is the read barrier.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from eventsourcing.utils import resolve_topic

from domain.application import ObjectStore
from projections.base import Projection, ViewStore, ViewTransaction, bound_handler

log = logging.getLogger("strata.projections")


class BarrierTimeout(TimeoutError):
    """Views did not reach the requested position in time."""


class ProjectionRunner:
    def __init__(
        self,
        store: ObjectStore,
        views: ViewStore,
        projections: Sequence[Projection],
        batch_size: int = 2000,
        poll_seconds: float = 0.25,
    ) -> None:
        self._store = store
        self._views = views
        self._projections = list(projections)
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        positions = {p.name: views.position(p.name) for p in self._projections}
        if len(set(positions.values())) > 1:
            # A view was added (or lost): views may read one another within a batch, so
            # they are rebuilt together from the start rather than caught up apart.
            log.warning("views are at different positions %s; rebuilding them", positions)
            views.drop([x for p in self._projections for x in p.prefixes], positions)
            positions = dict.fromkeys(positions, 0)
        self._position = min(positions.values(), default=0)
        self._changed = threading.Condition()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._closing = False
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self._handlers: dict[str, list[Callable[..., None]]] = {}  # by event topic
        self._ranged = tuple(prefix for p in self._projections for prefix in p.ranged)

    @property
    def position(self) -> int:
        return self._position

    def catch_up(self) -> int:
        """Apply every new event; return the position reached."""
        while self._apply_batch():
            pass
        return self._position

    def catch_up_step(self) -> bool:
        """Apply one batch; False when there was nothing new."""
        return self._apply_batch()

    def _apply_batch(self) -> bool:
        notifications = self._store.select_notifications(self._position, self._batch_size)
        if not notifications:
            return False
        self.apply(notifications, notifications[-1].id)
        return True

    def apply(
        self, notifications: Sequence[Any], reached: int, extra: Mapping[str, int] | None = None
    ) -> None:
        """Apply `notifications` (in log order, all after `position`) and record that the
        views are complete up to `reached`; `extra` positions are written with them (a
        Kafka feed's partition offsets), all in one atomic write."""
        tx = ViewTransaction(self._views, self._ranged)
        for notification in notifications:
            handlers = self._handlers_for(notification.topic)
            if not handlers:
                continue  # no view needs it: skip decoding, most of what an event costs
            event = self._store.decode(notification)
            for handler in handlers:
                handler(event, notification.id, tx)
        positions = {p.name: reached for p in self._projections}
        positions.update(extra or {})
        self._views.commit(tx.finish(), positions)
        with self._changed:
            self._position = reached
            self._changed.notify_all()

    def _handlers_for(self, topic: str) -> list[Callable[..., None]]:
        handlers = self._handlers.get(topic)
        if handlers is None:
            event_type = resolve_topic(topic)
            handlers = self._handlers[topic] = [
                handler
                for p in self._projections
                if (handler := bound_handler(p, event_type)) is not None
            ]
        return handlers

    def wake(self, _position: int = 0) -> None:
        self._wake.set()

    def wait_for(self, position: int, timeout: float = 10.0) -> None:
        """Block until every view has applied the event at `position`."""
        if self._position >= position:
            return
        self.wake()
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._position < position:
                if self.error is not None:
                    raise BarrierTimeout(f"views stopped: {self.error!r}")
                if self._closing:
                    raise BarrierTimeout("the views are closing")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise BarrierTimeout(
                        f"views reached position {self._position}, not {position}, "
                        f"within {timeout}s"
                    )
                self._changed.wait(remaining)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="projections", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()  # before catching up, so a commit during it is not missed
            try:
                self.catch_up()
            except Exception as exc:  # a bad event must stop the views, loudly
                log.exception("projection failed at position %s", self._position + 1)
                self.error = exc
                with self._changed:
                    self._changed.notify_all()
                return
            self._wake.wait(self._poll_seconds)

    def closing(self) -> None:
        """Reads waiting at the barrier give up at once: the process is stopping, and
        what they wait for may never come (the relay or broker stopped first)."""
        with self._changed:
            self._closing = True
            self._changed.notify_all()

    def stop(self) -> None:
        self.closing()
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
