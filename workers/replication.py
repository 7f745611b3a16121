"""Replication, healing and scrubbing: every referenced chunk kept on its N placement
nodes, each finding recorded as a ReplicaSurvey event.

- New chunks (VersionPut, PartUploaded) are reconciled at once: the write answered
  after W replicas; this confirms them and brings the rest.
- A full pass reconciles every referenced chunk whenever membership or health changes
  (and every FULL_PASS_EVERY intervals regardless): a node marked down, drained or
  removed loses its place, so its chunks are copied to the nodes that take over; a
  node that joins (or comes back) gets the chunks it now wins, and copies left on
  nodes no longer in the placement are deleted once every placement node has one.
- The scrubber reads every confirmed replica at a set pace and verifies it; a missing
  or corrupt copy (or one a reader reported) is deleted and replaced from a good one.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.application import ObjectStore
from domain.objects import ObjectKey
from domain.ports import ReplicaNodes
from domain.records import RequestMeta
from domain.uploads import MultipartUpload
from projections.base import ViewReader
from projections.chunk_refs import referenced_digests
from projections.placement import confirmed, replicas_of

log = logging.getLogger("strata.replication")
FULL_PASS_EVERY = 10  # replication intervals between full passes while nothing changes
REPLICATION_META: RequestMeta = {
    "actor": "strata:replication", "request_id": "", "source": "", "user_agent": "",
    "user": "strata:replication",
}


@dataclass
class Findings:
    placed: list[list[str]] = field(default_factory=list)
    dropped: list[list[str]] = field(default_factory=list)
    corrupt: list[list[str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.placed or self.dropped or self.corrupt)


@dataclass
class ReplicationStats:
    copies_made: int = 0
    misplaced_removed: int = 0
    replicas_scrubbed: int = 0
    corrupt_found: int = 0
    missing_found: int = 0
    under_replicated: int = 0  # after the last full pass
    last_full_pass: float = 0.0


def new_chunks(event: Any) -> list[str]:
    if isinstance(event, ObjectKey.VersionPut):
        return [c["digest"] for c in event.version["chunks"]]
    if isinstance(event, MultipartUpload.PartUploaded):
        return [c["digest"] for c in event.part["chunks"]]
    return []


class Replicator:
    def __init__(
        self,
        store: ObjectStore,
        views: ViewReader,
        wait_for_views: Callable[[int], None],
        nodes: ReplicaNodes,
        clock: Callable[[], datetime],
        interval_seconds: float,
        scrub_per_second: float,
        reported: Callable[[], Iterable[tuple[str, str]]] = lambda: (),
    ) -> None:
        """`reported`: replicas readers found bad since it was last asked."""
        self._store = store
        self._views = views
        self._wait_for_views = wait_for_views
        self._nodes = nodes
        self._clock = clock
        self._interval = interval_seconds
        self._scrub_pause = 1.0 / scrub_per_second if scrub_per_second > 0 else 0.0
        self._reported = reported
        self._pending: set[str] = set()
        self._suspects: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.stats = ReplicationStats()

    # -- inputs -------------------------------------------------------------------------

    def handle(self, event: Any) -> None:
        """The log follower's handler: new chunks are reconciled soon."""
        digests = new_chunks(event)
        if digests:
            with self._lock:
                self._pending.update(digests)
            self._wake.set()

    def suspect(self, found: Iterable[tuple[str, str]]) -> None:
        """Replicas a reader found missing or corrupt: checked and repaired soon."""
        with self._lock:
            self._suspects.update(found)
        self._wake.set()

    # -- passes -------------------------------------------------------------------------

    def reconcile(self, digests: Iterable[str]) -> Findings:
        findings = Findings()
        for digest in digests:
            self._reconcile_one(digest, findings)
        self._record(findings)
        return findings

    def _reconcile_one(self, digest: str, findings: Findings) -> bool:
        """Bring the chunk to its placement; True when every placement node has it."""
        desired = self._nodes.desired(digest)
        known = replicas_of(self._views, digest)
        readable = self._nodes.readable()
        held: set[str] = set()
        for node_id in desired:
            if node_id in known and node_id in readable:
                held.add(node_id)
                continue
            # A copy found in place is trusted here (its node checked the hash when it
            # took it); rot is the scrubber's to find.
            status = self._nodes.present(digest, node_id)
            if status == "ok" or (status == "missing" and self._nodes.copy(digest, node_id)):
                held.add(node_id)
                findings.placed.append([digest, node_id])
                self.stats.copies_made += status != "ok"
        complete = len(held) == len(desired) == self._nodes.replicas
        if complete:
            for node_id in known - set(desired):
                if node_id in readable:  # a node that is down keeps its copy for now
                    self._nodes.drop(digest, node_id)
                    findings.dropped.append([digest, node_id])
                    self.stats.misplaced_removed += 1
        return complete

    def full_pass(self) -> int:
        """Reconcile every referenced chunk; the number still under-replicated."""
        self._wait_for_views(self._store.current_position())
        findings = Findings()
        short = 0
        for digest in list(referenced_digests(self._views)):
            if self._stop.is_set():
                break
            if not self._reconcile_one(digest, findings):
                short += 1
            if len(findings.placed) + len(findings.dropped) >= 1000:
                self._record(findings)
                findings = Findings()
        self._record(findings)
        self.stats.under_replicated = short
        self.stats.last_full_pass = time.time()
        return short

    def scrub(self, limit: int | None = None) -> Findings:
        """Verify confirmed replicas on nodes that are up, at the set pace."""
        self._wait_for_views(self._store.current_position())
        readable = self._nodes.readable()
        findings = Findings()
        checked = 0
        for digest, holders in list(confirmed(self._views)):
            for node_id in sorted(holders & readable):
                if self._stop.is_set() or (limit is not None and checked >= limit):
                    self._record(findings)
                    return findings
                self._verify(digest, node_id, findings)
                if findings:  # rare: record each repair as it happens, not at the pass's end
                    self._record(findings)
                    findings = Findings()
                checked += 1
                if self._scrub_pause:
                    self._stop.wait(self._scrub_pause)
        self._record(findings)
        return findings

    def verify(self, replicas: Iterable[tuple[str, str]]) -> Findings:
        """Check replicas a reader reported bad, and repair those that are."""
        findings = Findings()
        for digest, node_id in replicas:
            self._verify(digest, node_id, findings)
        self._record(findings)
        return findings

    def _verify(self, digest: str, node_id: str, findings: Findings) -> None:
        # A report is only a reason to look: a replica the views do not hold (a copy
        # still on its way) is left alone, and a copy is deleted only when two reads of
        # its own both find bad bytes, so a read that raced a write cannot cost a good one.
        if node_id not in replicas_of(self._views, digest):
            return  # dropped since the pass began (moved away, or collected)
        self.stats.replicas_scrubbed += 1
        status = self._nodes.check(digest, node_id)
        if status == "corrupt" and self._nodes.check(digest, node_id) != "corrupt":
            log.info("replica of %s on %s read bad once and good again: kept",
                     digest[:12], node_id)
            return
        if status == "ok" or status == "unreachable":
            return
        if status == "corrupt":
            self.stats.corrupt_found += 1
            self._nodes.drop(digest, node_id)
            findings.corrupt.append([digest, node_id])
        else:
            self.stats.missing_found += 1
            findings.dropped.append([digest, node_id])
        # Replaced only where the chunk belongs now; elsewhere a lost copy stays lost.
        if node_id in self._nodes.desired(digest) and self._nodes.copy(digest, node_id):
            findings.placed.append([digest, node_id])
            self.stats.copies_made += 1

    def _record(self, findings: Findings) -> None:
        if findings:
            self._store.record_replica_survey(
                uuid.uuid4().hex, findings.placed, findings.dropped, findings.corrupt,
                REPLICATION_META, self._clock(),
            )

    # -- threads ------------------------------------------------------------------------

    def start(self) -> None:
        for name, loop in (("replication", self._replicate_loop), ("scrubber", self._scrub_loop)):
            thread = threading.Thread(target=loop, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def _replicate_loop(self) -> None:
        next_full = 0.0
        last_topology: object = None
        while not self._stop.is_set():
            try:
                self.suspect(self._reported())
                with self._lock:
                    pending, self._pending = self._pending, set()
                    suspects, self._suspects = self._suspects, set()
                if suspects:
                    self.verify(suspects)
                if pending:
                    self._wait_for_views(self._store.current_position())
                    self.reconcile(sorted(pending))
                # A full pass when membership or health changed (placement moved), else
                # every FULL_PASS_EVERY intervals as a safety net: new chunks are
                # reconciled at once.
                topology = self._nodes.topology()
                if topology != last_topology or time.monotonic() >= next_full:
                    last_topology = topology
                    short = self.full_pass()
                    # Chunks still short of their replicas are tried again soon.
                    wait = self._interval * (FULL_PASS_EVERY if short == 0 else 1)
                    next_full = time.monotonic() + wait
            except Exception:
                log.exception("replication pass failed; will try again")
            self._wake.wait(min(self._interval, 1.0))
            self._wake.clear()

    def _scrub_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.scrub()
            except Exception:
                log.exception("scrubbing failed; will try again")
            self._stop.wait(self._interval)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=10)
