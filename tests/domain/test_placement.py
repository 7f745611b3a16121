"""Rendezvous placement: deterministic, spread over zones, stable when nodes come and go."""

from __future__ import annotations

import hashlib
from collections import Counter

from domain.placement import NodeRef, placement

NODES = [NodeRef(f"n{i}", f"zone-{i % 3}") for i in range(6)]
DIGESTS = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(3000)]


def test_replicas_go_to_distinct_zones_while_there_are_enough() -> None:
    for digest in DIGESTS[:500]:
        chosen = placement(digest, NODES, 3)
        assert len({n.zone for n in chosen}) == 3
        assert chosen == placement(digest, list(reversed(NODES)), 3)  # order-free
    two_zones = [NodeRef("a", "z1"), NodeRef("b", "z1"), NodeRef("c", "z2")]
    assert {n.zone for n in placement(DIGESTS[0], two_zones, 3)} == {"z1", "z2"}
    assert len(placement(DIGESTS[0], two_zones, 3)) == 3


def test_load_spreads_evenly() -> None:
    homes = Counter(n.node_id for d in DIGESTS for n in placement(d, NODES, 3))
    expected = len(DIGESTS) * 3 / len(NODES)
    assert all(abs(count - expected) < expected * 0.15 for count in homes.values())


def test_a_joining_node_moves_only_the_chunks_it_wins() -> None:
    joined = [*NODES, NodeRef("n6", "zone-0")]
    moved = 0
    for digest in DIGESTS:
        before, after = placement(digest, NODES, 3), placement(digest, joined, 3)
        if before != after:
            moved += 1
            assert NodeRef("n6", "zone-0") in after
    assert 0 < moved < len(DIGESTS) * 0.7


def test_a_lost_node_moves_only_the_chunks_it_held() -> None:
    lost = NODES[2]
    survivors = [n for n in NODES if n != lost]
    for digest in DIGESTS[:500]:
        before = placement(digest, NODES, 3)
        after = placement(digest, survivors, 3)
        if lost in before:
            assert lost not in after and len(set(before) & set(after)) == 2
        else:
            assert after == before
