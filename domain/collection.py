"""GarbageSweep: the record of chunks a collector deleted, so views and audits know."""

from __future__ import annotations

from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.records import RequestMeta


class GarbageSweep(Aggregate):
    """One collection run that freed at least one chunk."""

    class Collected(Aggregate.Created):
        run_id: str
        digests: list[str]
        bytes_freed: int
        meta: RequestMeta

    @staticmethod
    def create_id(run_id: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"/garbage-sweeps/{run_id}")

    @event(Collected)
    def __init__(
        self,
        run_id: str,
        digests: list[str],
        bytes_freed: int,
        meta: RequestMeta,
        timestamp: datetime,
    ) -> None:
        self.run_id = run_id
        self.digests = digests
        self.bytes_freed = bytes_freed


class CollectionRefusal(Aggregate):
    """Chunks the collector found unreferenced but would not delete: a version holding
    them was under object lock when it went (which only a bug allows)."""

    class Refused(Aggregate.Created):
        run_id: str
        reasons: dict[str, str]  # digest -> why
        meta: RequestMeta

    @staticmethod
    def create_id(run_id: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"/collection-refusals/{run_id}")

    @event(Refused)
    def __init__(self, run_id: str, reasons: dict[str, str], meta: RequestMeta,
                 timestamp: datetime) -> None:
        self.run_id = run_id
        self.reasons = reasons
