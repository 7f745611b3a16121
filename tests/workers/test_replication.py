"""The replicator's decisions, over a fake of our own ReplicaNodes port (the real nodes
are exercised in tests/nodes): what it copies, what it leaves, what it records."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from api.feed import read_records
from domain.application import ObjectStore
from domain.envelope import EventFilter
from domain.placement import NodeRef, placement
from infra.run.system import all_projections
from projections.base import InMemoryViewStore
from projections.placement import replicas_of
from projections.runner import ProjectionRunner
from tests.conftest import META, now, version
from workers.replication import Replicator

DIGEST = "ab" * 32


class FakeNodes:
    """Nodes as sets of digests, some corrupt; placement as the real rendezvous."""

    replicas = 3

    def __init__(self, zones: dict[str, str]) -> None:
        self.zones = zones
        self.held: dict[str, set[str]] = {n: set() for n in zones}
        self.rotten: set[tuple[str, str]] = set()
        self.misread: dict[tuple[str, str], int] = {}  # wrong "corrupt" answers still to give
        self.down: set[str] = set()
        self.copies: list[tuple[str, str]] = []

    def topology(self) -> tuple[tuple[str, str, bool], ...]:
        return tuple(sorted((n, "active", n not in self.down) for n in self.zones))

    def desired(self, digest: str) -> list[str]:
        refs = [NodeRef(n, z) for n, z in self.zones.items() if n not in self.down]
        return [r.node_id for r in placement(digest, refs, self.replicas)]

    def readable(self) -> set[str]:
        return set(self.zones) - self.down

    def present(self, digest: str, node_id: str) -> str:
        if node_id in self.down:
            return "unreachable"
        return "ok" if digest in self.held[node_id] else "missing"

    def check(self, digest: str, node_id: str) -> str:
        if (digest, node_id) in self.rotten:
            return "corrupt"
        if self.misread.get((digest, node_id), 0) > 0:
            self.misread[(digest, node_id)] -= 1
            return "corrupt"
        return self.present(digest, node_id)

    def copy(self, digest: str, to_node: str) -> bool:
        good = [n for n in self.readable() if digest in self.held[n]
                and (digest, n) not in self.rotten and n != to_node]
        if not good:
            return False
        self.held[to_node].add(digest)
        self.copies.append((digest, to_node))
        return True

    def drop(self, digest: str, node_id: str) -> None:
        self.held[node_id].discard(digest)
        self.rotten.discard((digest, node_id))


def _setup(tmp_path: Path, nodes: FakeNodes) -> tuple[Replicator, InMemoryViewStore, ObjectStore]:
    store = ObjectStore({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                         "SQLITE_DBNAME": str(tmp_path / "events.db")})
    views = InMemoryViewStore()
    runner = ProjectionRunner(store, views, all_projections())
    store.on_commit(lambda _position: runner.catch_up())
    store.create_bucket("photos", "alice", META, now())
    store.put_object("photos", "k", version("v", digest=DIGEST), META, now())
    replicator = Replicator(store, views, lambda _p: runner.catch_up(), nodes, now, 1.0, 0)
    return replicator, views, store


def _held_and_reconciled(nodes: FakeNodes, replicator: Replicator, on: Iterable[str]) -> None:
    """DIGEST on the nodes `on`, confirmed by a reconcile."""
    for node in on:
        nodes.held[node].add(DIGEST)
    replicator.reconcile([DIGEST])


def test_a_new_chunk_is_brought_to_its_placement_and_recorded(tmp_path: Path) -> None:
    nodes = FakeNodes({"a": "z1", "b": "z2", "c": "z3", "d": "z1"})
    replicator, views, _ = _setup(tmp_path, nodes)
    first, second, third = nodes.desired(DIGEST)
    nodes.held[first].add(DIGEST)
    nodes.held[second].add(DIGEST)  # what the write's quorum left
    replicator.reconcile([DIGEST])
    assert nodes.copies == [(DIGEST, third)]
    assert replicas_of(views, DIGEST) == {first, second, third}


def test_a_down_node_is_replaced_and_keeps_its_copy_until_it_returns(tmp_path: Path) -> None:
    nodes = FakeNodes({"a": "z1", "b": "z2", "c": "z3", "d": "z1"})
    replicator, views, _ = _setup(tmp_path, nodes)
    homes = nodes.desired(DIGEST)
    _held_and_reconciled(nodes, replicator, homes)
    nodes.down.add(homes[0])
    assert replicator.full_pass() == 0
    spare = next(n for n in nodes.zones if n not in homes)
    assert DIGEST in nodes.held[spare] and DIGEST in nodes.held[homes[0]]
    nodes.down.clear()  # back: the spare's copy is now misplaced, and goes
    assert replicator.full_pass() == 0
    assert DIGEST not in nodes.held[spare]
    assert replicas_of(views, DIGEST) == set(homes)


def test_nothing_is_deleted_while_the_placement_is_short(tmp_path: Path) -> None:
    nodes = FakeNodes({"a": "z1", "b": "z2", "c": "z3"})
    replicator, _, _ = _setup(tmp_path, nodes)
    _held_and_reconciled(nodes, replicator, nodes.zones)
    nodes.down.add("a")  # two nodes left for three replicas
    assert replicator.full_pass() == 1
    assert all(DIGEST in held for held in nodes.held.values())


def test_the_scrubber_replaces_a_rotten_copy_and_records_it(tmp_path: Path) -> None:
    nodes = FakeNodes({"a": "z1", "b": "z2", "c": "z3"})
    replicator, views, store = _setup(tmp_path, nodes)
    _held_and_reconciled(nodes, replicator, nodes.zones)
    nodes.rotten.add((DIGEST, "b"))
    findings = replicator.scrub()
    assert findings.corrupt == [] and replicator.stats.corrupt_found == 1  # recorded at once
    assert (DIGEST, "b") not in nodes.rotten and DIGEST in nodes.held["b"]
    assert replicas_of(views, DIGEST) == {"a", "b", "c"}
    surveys, _ = read_records(store, 0, EventFilter(types=("strata:ReplicasSurveyed",)),
                              100, 10_000)
    assert [DIGEST, "b"] in [c for s in surveys for c in s["data"]["corrupt"]]


def test_the_scrubber_never_brings_a_copy_back_to_a_node_it_left(tmp_path: Path) -> None:
    nodes = FakeNodes({"a": "z1", "b": "z2", "c": "z3", "d": "z1"})
    replicator, views, store = _setup(tmp_path, nodes)
    homes = nodes.desired(DIGEST)
    spare = next(n for n in nodes.zones if n not in homes)
    for node in [*homes, spare]:
        nodes.held[node].add(DIGEST)
    store.record_replica_survey("r", [[DIGEST, spare]], [], [], META, now())
    replicator.reconcile([DIGEST])  # the spare's recorded copy is misplaced: deleted
    assert DIGEST not in nodes.held[spare]
    nodes.held[homes[1]].discard(DIGEST)  # and a home loses its copy
    replicator.scrub()
    assert DIGEST in nodes.held[homes[1]] and DIGEST not in nodes.held[spare]
    assert replicas_of(views, DIGEST) == set(homes)


def test_a_good_copy_read_bad_once_is_kept(tmp_path: Path) -> None:
    # Issue 20, item 4: a reader's report, or one read that raced a write, must never
    # cost a good replica.
    nodes = FakeNodes({"a": "z1", "b": "z2", "c": "z3"})
    replicator, views, _ = _setup(tmp_path, nodes)
    _held_and_reconciled(nodes, replicator, nodes.zones)
    nodes.misread[(DIGEST, "b")] = 1
    findings = replicator.verify([(DIGEST, "b"), (DIGEST, "a")])
    assert not findings and replicator.stats.corrupt_found == 0
    assert all(DIGEST in held for held in nodes.held.values()) and nodes.copies == []
    nodes.rotten.add((DIGEST, "c"))  # bad on every read: replaced
    findings = replicator.verify([(DIGEST, "c")])
    assert findings.corrupt == [[DIGEST, "c"]] and replicator.stats.corrupt_found == 1
    assert replicas_of(views, DIGEST) == {"a", "b", "c"} and (DIGEST, "c") not in nodes.rotten
