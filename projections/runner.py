"""ProjectionRunner: follows the notification log and keeps views current.

Woken by the store's commit signal (SQLite has no subscriptions) and by a short poll
for writers in other processes. `wait_for(position)` is the read barrier.

With event-store cells (architecture decision 25) it follows every cell's log into
the one view store, a position per cell recorded with each batch; batches from
different cells are applied one at a time, since views spanning buckets (chunk
references) read and write keys that several cells' events touch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from eventsourcing.utils import resolve_topic

from projections.base import Projection, ViewStore, ViewTransaction, bound_handler

log = logging.getLogger("strata.projections")


class BarrierTimeout(TimeoutError):
    """Views did not reach the requested position in time."""


class LogSource(Protocol):
    """One cell's notification log, as the runner reads it (an ObjectStore)."""

    def select_notifications(self, start: int, limit: int) -> Sequence[Any]: ...

    def decode(self, notification: Any) -> Any: ...


def home_position(head: int | Sequence[int]) -> int:
    """The home cell's part of a log head: what followers of the home log (GC,
    replication, geo-replication) measure their lag against."""
    return head[0] if isinstance(head, Sequence) else head


def tracking_name(projection: str, cell: int) -> str:
    """The key of a projection's position in a cell; the home cell's is the name alone,
    as before there were cells."""
    return projection if cell == 0 else f"{projection}@cell{cell}"


class ProjectionRunner:
    def __init__(
        self,
        store: LogSource,
        views: ViewStore,
        projections: Sequence[Projection],
        batch_size: int = 2000,
        poll_seconds: float = 0.25,
        cells: Sequence[LogSource] = (),
        on_applied: Callable[[int, set[Any]], None] | None = None,
    ) -> None:
        """`store` is the home cell's log; `cells` the other cells', in cell order.
        `on_applied(cell, aggregate ids)`: told of every batch's changed aggregates
        before the batch's position counts as applied (read caches drop them)."""
        self._on_applied = on_applied
        self._logs: list[LogSource] = [store, *cells]
        self._views = views
        self._projections = list(projections)
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        positions = {tracking_name(p.name, cell): views.position(tracking_name(p.name, cell))
                     for cell in range(len(self._logs)) for p in self._projections}
        if any(len({positions[tracking_name(p.name, cell)] for p in self._projections}) > 1
               for cell in range(len(self._logs))):
            # A view was added (or lost): views may read one another within a batch, so
            # they are rebuilt together from the start rather than caught up apart.
            log.warning("views are at different positions %s; rebuilding them", positions)
            views.drop([x for p in self._projections for x in p.prefixes], positions)
            positions = dict.fromkeys(positions, 0)
        self._positions = [
            min((positions[tracking_name(p.name, cell)] for p in self._projections), default=0)
            for cell in range(len(self._logs))]
        self._applying = threading.Lock()  # one batch at a time, whichever cell's
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
        """The home cell's position (the only one without cells)."""
        return self._positions[0]

    @property
    def positions(self) -> tuple[int, ...]:
        """Every cell's position, in cell order."""
        return tuple(self._positions)

    def catch_up(self) -> int:
        """Apply every new event; return the (home cell's) position reached."""
        while self._apply_batch():
            pass
        return self._positions[0]

    def catch_up_step(self) -> bool:
        """Apply one batch from each cell; False when there was nothing new."""
        return self._apply_batch()

    def _apply_batch(self) -> bool:
        applied = False
        for cell, source in enumerate(self._logs):
            notifications = source.select_notifications(self._positions[cell], self._batch_size)
            if notifications:
                self.apply(notifications, notifications[-1].id, cell=cell)
                applied = True
        return applied

    def apply(
        self, notifications: Sequence[Any], reached: int, extra: Mapping[str, int] | None = None,
        cell: int = 0,
    ) -> None:
        """Apply `notifications` (a cell's, in log order, all after its position) and
        record that the views are complete up to `reached` in that cell; `extra`
        positions are written with them (a Kafka feed's partition offsets), all in one
        atomic write."""
        decode = self._logs[cell].decode
        with self._applying:
            tx = ViewTransaction(self._views, self._ranged)
            for notification in notifications:
                handlers = self._handlers_for(notification.topic)
                if not handlers:
                    continue  # no view needs it: skip decoding, most of what an event costs
                event = decode(notification)
                for handler in handlers:
                    handler(event, notification.id, tx)
            positions = {tracking_name(p.name, cell): reached for p in self._projections}
            positions.update(extra or {})
            self._views.commit(tx.finish(), positions)
            if self._on_applied is not None:
                self._on_applied(cell, {n.originator_id for n in notifications})
            with self._changed:
                self._positions[cell] = reached
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

    def behind(self, head: int | Sequence[int]) -> int:
        """Events the views have yet to apply, given the log's head (a position per cell
        where there are cells)."""
        heads = head if isinstance(head, Sequence) else (head,)
        return sum(max(0, h - p) for h, p in zip(heads, self._positions, strict=False))

    def wait_for(self, position: int | Sequence[int], timeout: float = 10.0,
                 cell: int = 0) -> None:
        """Block until every view has applied the event at `position` of `cell`; given
        a position per cell (a whole-store barrier), each of them."""
        if isinstance(position, Sequence):
            deadline = time.monotonic() + timeout
            for each, wanted in enumerate(position):
                self.wait_for(wanted, max(0.0, deadline - time.monotonic()), each)
            return
        if self._positions[cell] >= position:
            return
        self.wake()
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._positions[cell] < position:
                if self.error is not None:
                    raise BarrierTimeout(f"views stopped: {self.error!r}")
                if self._closing:
                    raise BarrierTimeout("the views are closing")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise BarrierTimeout(
                        f"views reached position {self._positions[cell]}, not {position}"
                        + (f" of cell {cell}" if cell else "") + f", within {timeout}s"
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
                log.exception("projection failed after positions %s", self._positions)
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
