"""The placement view: which nodes hold a confirmed replica of each chunk, and the
chunks of each node. Built from replica surveys and garbage sweeps.

P/<digest>/<node id>   a confirmed replica
Q/<node id>/<digest>   the same, by node
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import singledispatchmethod
from typing import Any

from domain.collection import GarbageSweep
from domain.replicas import ReplicaSurvey
from projections.base import ViewReader, ViewTransaction, prefix_end


def _by_chunk(digest: str) -> bytes:
    return b"P/" + digest.encode() + b"/"


def _by_node(node_id: str) -> bytes:
    return b"Q/" + node_id.encode() + b"/"


class PlacementProjection:
    name = "placement"
    prefixes: tuple[bytes, ...] = (b"P/", b"Q/")
    ranged: tuple[bytes, ...] = (b"P/",)

    @singledispatchmethod
    def process(self, event: Any, position: int, tx: ViewTransaction) -> None:
        """Events this view does not need change nothing."""

    @process.register
    def _(self, event: ReplicaSurvey.Recorded, position: int, tx: ViewTransaction) -> None:
        # Removals first: a copy found bad and replaced in one pass is in both lists,
        # and what stands at the end is the good copy.
        for digest, node_id in [*event.dropped, *event.corrupt]:
            tx.delete(_by_chunk(digest) + node_id.encode())
            tx.delete(_by_node(node_id) + digest.encode())
        for digest, node_id in event.placed:
            tx.put(_by_chunk(digest) + node_id.encode(), b"")
            tx.put(_by_node(node_id) + digest.encode(), b"")

    @process.register
    def _(self, event: GarbageSweep.Collected, position: int, tx: ViewTransaction) -> None:
        for digest in event.digests:
            head = _by_chunk(digest)
            for key, _ in list(tx.scan(head, prefix_end(head))):
                tx.delete(key)
                tx.delete(_by_node(key[len(head) :].decode()) + digest.encode())


def replicas_of(views: ViewReader, digest: str) -> set[str]:
    head = _by_chunk(digest)
    return {key[len(head) :].decode() for key, _ in views.scan(head, prefix_end(head))}


def confirmed(views: ViewReader) -> Iterator[tuple[str, set[str]]]:
    """Every chunk with a confirmed replica, and its nodes, in digest order."""
    current, nodes = "", set[str]()
    for key, _ in views.scan(b"P/", prefix_end(b"P/")):
        digest, node_id = key[2:].decode().split("/", 1)
        if digest != current and current:
            yield current, nodes
            nodes = set()
        current = digest
        nodes.add(node_id)
    if current:
        yield current, nodes


def under_replicated(
    views: ViewReader, digests: Iterable[str], readable: set[str], replicas: int
) -> tuple[int, int]:
    """(chunks, of which under-replicated): fewer than `replicas` confirmed replicas on
    nodes that are up."""
    total = short = 0
    for digest in digests:
        total += 1
        if len(replicas_of(views, digest) & readable) < replicas:
            short += 1
    return total, short


def chunk_counts(views: ViewReader) -> dict[str, int]:
    """Confirmed replicas per node."""
    counts: dict[str, int] = {}
    for key, _ in views.scan(b"Q/", prefix_end(b"Q/")):
        node_id = key[2:].split(b"/", 1)[0].decode()
        counts[node_id] = counts.get(node_id, 0) + 1
    return counts
