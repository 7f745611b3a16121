"""The membership view: every registered blob node, its address, zone and state.

M/<node id>   {"node_id", "url", "zone", "state"}   (absent once removed)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import singledispatchmethod
from typing import Any

import orjson

from domain.nodes import ACTIVE, DRAINING, BlobNode
from projections.base import ViewReader, ViewTransaction, prefix_end


@dataclass(frozen=True)
class NodeRecord:
    node_id: str
    url: str
    zone: str
    state: str


class NodesProjection:
    name = "nodes"
    prefixes: tuple[bytes, ...] = (b"M/",)
    ranged: tuple[bytes, ...] = ()

    @singledispatchmethod
    def process(self, event: Any, position: int, tx: ViewTransaction) -> None:
        """Events this view does not need change nothing."""

    @process.register
    def _(self, event: BlobNode.Registered, position: int, tx: ViewTransaction) -> None:
        self._put(tx, event.node_id, event.url, event.zone, ACTIVE)

    @process.register
    def _(self, event: BlobNode.Reinstated, position: int, tx: ViewTransaction) -> None:
        self._put(tx, event.node_id, event.url, event.zone, ACTIVE)

    @process.register
    def _(self, event: BlobNode.Drained, position: int, tx: ViewTransaction) -> None:
        raw = tx.get(b"M/" + event.node_id.encode())
        if raw is not None:
            tx.put(b"M/" + event.node_id.encode(),
                   orjson.dumps({**orjson.loads(raw), "state": DRAINING}))

    @process.register
    def _(self, event: BlobNode.Removed, position: int, tx: ViewTransaction) -> None:
        tx.delete(b"M/" + event.node_id.encode())

    @staticmethod
    def _put(tx: ViewTransaction, node_id: str, url: str, zone: str, state: str) -> None:
        record = {"node_id": node_id, "url": url, "zone": zone, "state": state}
        tx.put(b"M/" + node_id.encode(), orjson.dumps(record))


def list_nodes(views: ViewReader) -> list[NodeRecord]:
    return [NodeRecord(**orjson.loads(v)) for _, v in views.scan(b"M/", prefix_end(b"M/"))]
