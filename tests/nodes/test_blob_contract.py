"""The BlobStore contract (tests/contracts/blob_store.py) against three blob-node
processes on loopback, through the NodeBlobStore adapter."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import pytest

from infra.blobs.nodes import FRESH_SECONDS, NodeBlobStore
from tests.conftest import free_port, start_together
from tests.contracts.blob_store import BlobStoreContract
from tests.nodes.conftest import SECRET, Node, rot_in_place


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Node]]:
    root = tmp_path_factory.mktemp("contract-nodes")
    started = [Node(root / f"node-{i}", free_port(), zone)
               for i, zone in enumerate(["zone-a", "zone-b", "zone-c"])]
    start_together(started)
    try:
        yield started
    finally:
        for node in started:
            node.stop()


class TestBlobNodes(BlobStoreContract):
    @pytest.fixture
    def blobs(self, nodes: list[Node]) -> Iterator[NodeBlobStore]:
        # A store confirms a chunk it wrote itself within FRESH_SECONDS without asking
        # the nodes; its clock here moves past that between any two readings, so the
        # contract's confirm is the one the nodes see.
        ticks = itertools.count(step=2 * FRESH_SECONDS)
        store = NodeBlobStore(SECRET, replicas=3, write_quorum=2, down_after_seconds=1e12,
                              clock=lambda: float(next(ticks)))
        store.set_members([(n.node_id, n.url, n.zone, "active") for n in nodes])
        for stored in list(store.inventory()):  # each test starts from empty nodes
            store.delete_if_idle(stored.digest, 0)
        self.node_list = nodes
        yield store
        store.close()

    def rot(self, blobs: NodeBlobStore, digest: str) -> None:
        """Every replica, once all three are written (the third is written after the
        store answers, in the background)."""
        deadline = time.monotonic() + 30
        while not all(n.chunk_path(digest).exists() for n in self.node_list):
            assert time.monotonic() < deadline, "the third replica never arrived"
            time.sleep(0.05)
        for node in self.node_list:
            rot_in_place(node.chunk_path(digest), 0)


def test_a_fresh_chunk_skips_its_confirming_touch_only_well_within_the_gc_grace(
    nodes: list[Node],
) -> None:
    """A store may skip touching a chunk it stored moments ago, but never for as long as
    GC's grace: with a short grace (the tests', a soak's), a chunk stored earlier than a
    quarter of it is touched again, so GC cannot take it before the event names it."""
    import os

    from tests.contracts.blob_store import write

    store = NodeBlobStore(SECRET, replicas=3, write_quorum=2, down_after_seconds=1e12,
                          gc_grace_seconds=0.8)
    store.set_members([(n.node_id, n.url, n.zone, "active") for n in nodes])
    try:
        chunk = write(store, os.urandom(100))
        time.sleep(0.5)  # past a quarter of the grace, within the fixed 60 s window
        store.confirm([chunk])
        idle = [c.idle_seconds for c in store.inventory() if c.digest == chunk["digest"]]
        assert idle and idle[0] < 0.4, idle
        assert store.delete_if_idle(chunk["digest"], 0.45) is None
    finally:
        store.close()
