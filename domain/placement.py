"""Where a chunk's replicas live: rendezvous (highest random weight) hashing.

Each node scores each chunk by a hash of both; a chunk's placement order is its nodes
by descending score, with distinct zones first while zones remain. A node that joins or
leaves moves only the chunks it wins or held, and every reader computes the same order
without asking anyone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class NodeRef:
    node_id: str
    zone: str


def _score(digest: str, node_id: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{digest}/{node_id}".encode()).digest()[:8], "big")


def placement_order(digest: str, nodes: Sequence[NodeRef]) -> list[NodeRef]:
    """Every node, in the order a chunk's replicas go to them (and are read from): the
    best-scoring node of each zone first, then the rest by score."""
    ranked = sorted(nodes, key=lambda n: _score(digest, n.node_id), reverse=True)
    zones_used: set[str] = set()
    spread, rest = [], []
    for node in ranked:
        if node.zone in zones_used:
            rest.append(node)
        else:
            zones_used.add(node.zone)
            spread.append(node)
    return spread + rest


def placement(digest: str, nodes: Sequence[NodeRef], replicas: int) -> list[NodeRef]:
    """The `replicas` nodes that should hold the chunk."""
    return placement_order(digest, nodes)[:replicas]
