"""ReplicaSurvey: what a replication, healing or scrubbing pass found and did, as events.

Each entry is [digest, node id]. `placed`: the node holds a good replica (copied there,
or found there). `dropped`: it no longer does (deleted as misplaced, or found missing).
`corrupt`: its copy failed verification (and was deleted). The placement view is built
from these; the bytes never enter events.
"""

from __future__ import annotations

from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.records import RequestMeta


class ReplicaSurvey(Aggregate):
    class Recorded(Aggregate.Created):
        run_id: str
        placed: list[list[str]]
        dropped: list[list[str]]
        corrupt: list[list[str]]
        meta: RequestMeta

    @staticmethod
    def create_id(run_id: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"/replica-surveys/{run_id}")

    @event(Recorded)
    def __init__(
        self,
        run_id: str,
        placed: list[list[str]],
        dropped: list[list[str]],
        corrupt: list[list[str]],
        meta: RequestMeta,
        timestamp: datetime,
    ) -> None:
        self.run_id = run_id
        self.placed = placed
        self.dropped = dropped
        self.corrupt = corrupt
