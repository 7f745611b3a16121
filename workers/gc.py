"""Garbage collection of chunks: plain functions, and the worker that schedules them.

A chunk is deleted when no version references it, its last reference went away more
than the grace period ago, and it has been idle on disk that long (every upload
confirms its chunks just before recording them, which resets the idle clock, so a
chunk an upload is about to reference is never collected). Chunks of uploads that
crashed before their event never got a reference: the same sweep finds them.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from domain.application import ObjectStore
from domain.objects import ObjectKey
from domain.ports import BlobStore
from domain.records import RequestMeta
from domain.uploads import MultipartUpload
from projections.base import ViewReader
from projections.chunk_refs import lock_on, reference_count, released

log = logging.getLogger("strata.gc")
GC_META: RequestMeta = {"actor": "strata:gc", "request_id": "", "source": "", "user_agent": ""}


@dataclass
class SweepReport:
    digests: list[str] = field(default_factory=list)
    bytes_freed: int = 0
    referenced: int = 0
    referenced_bytes: int = 0
    in_grace: int = 0
    in_grace_bytes: int = 0
    refused: dict[str, str] = field(default_factory=dict)  # locked digest -> why


def sweep(refs: ViewReader, blobs: BlobStore, grace_seconds: float, now: datetime) -> SweepReport:
    report = SweepReport()
    for stored in blobs.inventory():
        if reference_count(refs, stored.digest) > 0:
            report.referenced += 1
            report.referenced_bytes += stored.size
            continue
        # Object lock outranks whatever released the chunk: only a bug removes a locked
        # version, and then its bytes must stay.
        locked = lock_on(refs, stored.digest, now)
        if locked is not None:
            report.refused[stored.digest] = locked
            continue
        release = released(refs, stored.digest)
        if release is not None and now - release.at < timedelta(
            seconds=max(grace_seconds, release.keep_seconds)
        ):
            report.in_grace += 1
            report.in_grace_bytes += stored.size
            continue
        freed = blobs.delete_if_idle(stored.digest, grace_seconds)
        if freed is None:
            report.in_grace += 1
            report.in_grace_bytes += stored.size
        else:
            report.digests.append(stored.digest)
            report.bytes_freed += freed
    return report


def releases_chunks(event: Any) -> bool:
    if isinstance(event, ObjectKey.VersionPut | ObjectKey.DeleteMarkerPlaced):
        return bool(event.replaced)
    return isinstance(
        event,
        ObjectKey.VersionDeleted
        | MultipartUpload.PartUploaded
        | MultipartUpload.Completed
        | MultipartUpload.Aborted,
    )


class GarbageCollector:
    """Sweeps every `interval`, and soon after a released chunk's grace period ends."""

    def __init__(
        self,
        store: ObjectStore,
        refs: ViewReader,
        wait_for_views: Callable[[int], None],
        blobs: BlobStore,
        grace_seconds: float,
        interval_seconds: float,
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._refs = refs
        self._wait_for_views = wait_for_views
        self._blobs = blobs
        self._grace = grace_seconds
        self._interval = interval_seconds
        self._clock = clock
        self._next_due = time.monotonic() + min(interval_seconds, grace_seconds)
        self._due = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sweeps = 0
        self.chunks_collected = 0
        self.bytes_collected = 0
        self.chunks_refused = 0  # unreferenced chunks object lock keeps, at the last sweep
        self.last_sweep = SweepReport()  # what the chunk store held, as the last sweep saw
        self._refused: dict[str, str] = {}  # refusals recorded by this process

    def handle(self, event: Any) -> None:
        """The log follower's handler: a released chunk makes a sweep due after grace."""
        if releases_chunks(event):
            age = (self._clock() - event.timestamp).total_seconds()
            self.due_in(max(0.0, self._grace - age) + 0.05)

    def due_in(self, seconds: float) -> None:
        with self._due:
            self._next_due = min(self._next_due, time.monotonic() + seconds)
            self._due.notify_all()

    def run_once(self) -> SweepReport:
        self._wait_for_views(self._store.current_position())
        report = sweep(self._refs, self._blobs, self._grace, self._clock())
        if report.digests:
            self._store.record_garbage_sweep(
                uuid.uuid4().hex, report.digests, report.bytes_freed, GC_META, self._clock()
            )
            log.info("collected %d chunks, %d bytes", len(report.digests), report.bytes_freed)
        new_refusals = {d: why for d, why in report.refused.items() if d not in self._refused}
        if new_refusals:
            self._store.record_collection_refused(
                uuid.uuid4().hex, new_refusals, GC_META, self._clock())
            self._refused.update(new_refusals)
            log.error("refused to collect %d chunks no version references: object lock "
                      "still protects them (a locked version was removed: report this)",
                      len(new_refusals))
        self.chunks_refused = len(report.refused)
        self.last_sweep = report
        self.sweeps += 1
        self.chunks_collected += len(report.digests)
        self.bytes_collected += report.bytes_freed
        if report.in_grace:
            self.due_in(min(self._grace, self._interval) / 2 + 0.05)
        return report

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="gc", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._due:
                wait = self._next_due - time.monotonic()
                if wait > 0:
                    self._due.wait(wait)
                    continue
                self._next_due = time.monotonic() + self._interval
            try:
                self.run_once()
            except Exception:
                log.exception("garbage collection failed; will try again")

    def stop(self) -> None:
        self._stop.set()
        self.due_in(0)
        if self._thread is not None:
            self._thread.join(timeout=10)
