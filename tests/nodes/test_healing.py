"""Self-healing with real node processes: a dead node's chunks return to three replicas
(on the survivors and a node that joins), and the scrubber replaces a rotten copy."""

from __future__ import annotations

import os
import time
from datetime import datetime
from typing import Any

import httpx

from tests.nodes.conftest import Cluster, rot_in_place
from tests.nodes.test_cluster import CHUNK, _digests, _eventually, put_one_chunk
from tests.s3.conftest import make_client


def _surveys(cluster: Cluster) -> list[dict[str, Any]]:
    assert cluster.server is not None
    r = httpx.get(f"{cluster.server.api}/audit",
                  params={"type": "strata:ReplicasSurveyed", "limit": 1000},
                  headers=cluster.server.token())
    return r.json()["events"]


def test_a_dead_nodes_chunks_return_to_three_replicas(cluster: Cluster) -> None:
    assert cluster.server is not None
    s3 = make_client(cluster.server)
    s3.create_bucket(Bucket="heal")
    bodies = {f"k{n}": os.urandom(CHUNK + n) for n in range(10)}
    for key, body in bodies.items():
        s3.put_object(Bucket="heal", Key=key, Body=body)
    digests = [d for key in bodies for d in _digests(cluster, "heal", key)]
    _eventually(lambda: all(len(cluster.holders(d)) == 3 for d in digests))
    dead = cluster.nodes[0]
    dead.kill()
    killed_at = time.monotonic()
    auth = cluster.server.token()

    def durability() -> dict[str, Any]:
        return httpx.get(f"{cluster.server.api}/admin/durability", headers=auth).json()

    # with two nodes up and three replicas wanted, the report says why it cannot heal
    _eventually(lambda: "2 blob nodes are up" in durability().get("why_under_replicated", ""))
    fourth = cluster.add_node("zone-d")
    cluster.register(fourth)
    alive = [n for n in cluster.nodes if n is not dead]

    def healed() -> bool:
        return all(sum(n.chunk_path(d).exists() for n in alive) == 3 for d in digests)

    _eventually(healed, seconds=30)
    elapsed = time.monotonic() - killed_at
    assert elapsed < 30
    _eventually(lambda: durability()["under_replicated"] == 0)
    report = durability()
    assert "why_under_replicated" not in report
    assert datetime.fromisoformat(report["replication"]["last_full_pass"]).tzinfo is not None
    assert report["chunks"] == len(digests) and report["replication"]["copies_made"] > 0
    assert sorted((n["zone"], n["up"]) for n in report["nodes"]) == [
        ("zone-a", False), ("zone-b", True), ("zone-c", True), ("zone-d", True)]
    per_bucket = httpx.get(f"{cluster.server.api}/buckets/heal/durability", headers=auth)
    assert per_bucket.json() == {"bucket": "heal", "chunks": len(digests),
                                 "under_replicated": 0, "replicas": 3}
    assert any(fourth.chunk_path(d).exists() for d in digests)
    for key, body in bodies.items():
        assert s3.get_object(Bucket="heal", Key=key)["Body"].read() == body
    placed = [p for e in _surveys(cluster) for p in e["data"]["placed"]]
    assert any(node == fourth.node_id for _, node in placed)


def test_the_scrubber_replaces_a_rotten_replica(cluster: Cluster) -> None:
    assert cluster.server is not None
    body = os.urandom(CHUNK)
    digest = put_one_chunk(cluster, "scrub", body)
    victim = cluster.holders(digest)[0]
    rot_in_place(victim.chunk_path(digest), 77)
    path = victim.chunk_path(digest)
    # The scrubber deletes the rotten copy, then copies a good one in.
    _eventually(lambda: path.exists() and path.read_bytes() == body, seconds=30)
    # The repair is recorded just after it is made.
    _eventually(lambda: [digest, victim.node_id] in [
        c for e in _surveys(cluster) for c in e["data"]["corrupt"]])
    report = httpx.get(f"{cluster.server.api}/admin/durability",
                       headers=cluster.server.token()).json()
    assert report["replication"]["corrupt_found"] >= 1
    for node in report["nodes"]:  # each answering node says how full its disk is
        assert node["up"] and 0 < node["bytes_free"] <= node["bytes_total"], node


def test_a_drained_nodes_chunks_move_away(cluster: Cluster) -> None:
    assert cluster.server is not None
    s3 = make_client(cluster.server)
    fourth = cluster.add_node("zone-a")
    cluster.register(fourth)
    s3.create_bucket(Bucket="drain")
    for n in range(8):
        s3.put_object(Bucket="drain", Key=f"k{n}", Body=os.urandom(CHUNK // 2 + n))
    digests = [d for n in range(8) for d in _digests(cluster, "drain", f"k{n}")]
    _eventually(lambda: all(len(cluster.holders(d)) == 3 for d in digests))
    leaving = max(cluster.nodes, key=lambda n: sum(n.chunk_path(d).exists() for d in digests))
    r = httpx.post(f"{cluster.server.api}/admin/nodes/{leaving.node_id}/drain",
                   headers=cluster.server.token())
    assert r.status_code == 200, r.text
    staying = [n for n in cluster.nodes if n is not leaving]
    _eventually(lambda: not any(leaving.chunk_path(d).exists() for d in digests)
                and all(sum(n.chunk_path(d).exists() for n in staying) == 3 for d in digests),
                seconds=30)
    listing = httpx.get(f"{cluster.server.api}/admin/nodes", headers=cluster.server.token())
    states = {n["node_id"]: n["state"] for n in listing.json()["nodes"]}
    assert states[leaving.node_id] == "draining"
