"""Blob-node membership and the records of what the workers did to chunks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from eventsourcing.application import AggregateNotFoundError

from domain.collection import CollectionRefusal, GarbageSweep
from domain.errors import (
    NoSuchNode,
)
from domain.nodes import BlobNode
from domain.records import RequestMeta
from domain.replicas import ReplicaSurvey
from domain.store.core import StoreCore


class NodeCommands(StoreCore):
    def record_garbage_sweep(
        self, run_id: str, digests: list[str], bytes_freed: int, meta: RequestMeta, now: datetime
    ) -> int:
        return self._save(GarbageSweep(run_id, digests, bytes_freed, meta, now))

    def record_collection_refused(self, run_id: str, reasons: dict[str, str],
                                  meta: RequestMeta, now: datetime) -> int:
        return self._save(CollectionRefusal(run_id, reasons, meta, now))


    def register_node(
        self, node_id: str, url: str, zone: str, meta: RequestMeta, now: datetime
    ) -> int:
        def attempt() -> int:
            try:
                node: BlobNode = self.repository.get(BlobNode.create_id(node_id))
            except AggregateNotFoundError:
                node = BlobNode.register(node_id, url, zone, meta, now)
            else:
                node.reinstate(url, zone, meta, now)
            return self._save(node) if node.pending_events else 0

        return self._retrying(attempt, BlobNode.create_id(node_id))

    def _node_change(self, node_id: str, change: Callable[[BlobNode], None]) -> int:
        def attempt() -> int:
            try:
                node: BlobNode = self.repository.get(BlobNode.create_id(node_id))
            except AggregateNotFoundError:
                raise NoSuchNode(f"No blob node {node_id!r} is registered",
                                 node_id=node_id) from None
            change(node)
            return self._save(node) if node.pending_events else 0

        return self._retrying(attempt, BlobNode.create_id(node_id))

    def drain_node(self, node_id: str, meta: RequestMeta, now: datetime) -> int:
        return self._node_change(node_id, lambda node: node.drain(meta, now))

    def remove_node(self, node_id: str, meta: RequestMeta, now: datetime) -> int:
        return self._node_change(node_id, lambda node: node.remove(meta, now))

    def record_replica_survey(
        self,
        run_id: str,
        placed: list[list[str]],
        dropped: list[list[str]],
        corrupt: list[list[str]],
        meta: RequestMeta,
        now: datetime,
    ) -> int:
        return self._save(ReplicaSurvey(run_id, placed, dropped, corrupt, meta, now))
