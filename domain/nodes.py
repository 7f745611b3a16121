"""The BlobNode aggregate: a blob node's membership of the cluster, as events."""

from __future__ import annotations

import functools
from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidArgument
from domain.records import RequestMeta

ACTIVE = "active"
DRAINING = "draining"  # still read from; gets no new replicas; its chunks move away
REMOVED = "removed"


class BlobNode(Aggregate):
    """One blob node: where it answers, its zone, and whether it takes new data."""

    class Registered(Aggregate.Created):
        node_id: str
        url: str
        zone: str
        meta: RequestMeta

    class Drained(Aggregate.Event):
        node_id: str
        meta: RequestMeta

    class Removed(Aggregate.Event):
        node_id: str
        meta: RequestMeta

    class Reinstated(Aggregate.Event):
        node_id: str
        url: str
        zone: str
        meta: RequestMeta

    @staticmethod
    @functools.lru_cache(maxsize=1024)
    def create_id(node_id: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"/nodes/{node_id}")

    @classmethod
    def register(
        cls, node_id: str, url: str, zone: str, meta: RequestMeta, timestamp: datetime
    ) -> BlobNode:
        _check(node_id, url, zone)
        return cls(node_id=node_id, url=url, zone=zone, meta=meta, timestamp=timestamp)

    @event(Registered)
    def __init__(
        self, node_id: str, url: str, zone: str, meta: RequestMeta, timestamp: datetime
    ) -> None:
        self.node_id = node_id
        self.url = url
        self.zone = zone
        self.state = ACTIVE

    def reinstate(self, url: str, zone: str, meta: RequestMeta, timestamp: datetime) -> None:
        """Register again: after removal, or with a new address; a no-op if unchanged."""
        _check(self.node_id, url, zone)
        if (self.state, self.url, self.zone) != (ACTIVE, url, zone):
            self._reinstated(node_id=self.node_id, url=url, zone=zone, meta=meta,
                             timestamp=timestamp)

    @event(Reinstated)
    def _reinstated(
        self, node_id: str, url: str, zone: str, meta: RequestMeta, timestamp: datetime
    ) -> None:
        self.url, self.zone, self.state = url, zone, ACTIVE

    def drain(self, meta: RequestMeta, timestamp: datetime) -> None:
        if self.state == REMOVED:
            raise InvalidArgument("A removed node cannot be drained", node_id=self.node_id)
        if self.state != DRAINING:
            self._drained(node_id=self.node_id, meta=meta, timestamp=timestamp)

    @event(Drained)
    def _drained(self, node_id: str, meta: RequestMeta, timestamp: datetime) -> None:
        self.state = DRAINING

    def remove(self, meta: RequestMeta, timestamp: datetime) -> None:
        if self.state != REMOVED:
            self._removed(node_id=self.node_id, meta=meta, timestamp=timestamp)

    @event(Removed)
    def _removed(self, node_id: str, meta: RequestMeta, timestamp: datetime) -> None:
        self.state = REMOVED


def _check(node_id: str, url: str, zone: str) -> None:
    if not node_id or not zone:
        raise InvalidArgument("A node needs an id and a zone", node_id=node_id, zone=zone)
    if not url.startswith(("http://", "https://")):
        raise InvalidArgument("A node's URL must be http:// or https://", url=url)
