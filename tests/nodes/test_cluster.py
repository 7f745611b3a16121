"""strata over three blob-node processes in three zones: replicas, quorum, failover,
rot, and garbage collection on every node."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.nodes.conftest import Cluster, rot_in_place
from tests.s3.conftest import make_client

CHUNK = 256 * 1024  # the test server's chunk size


def _digests(cluster: Cluster, bucket: str, key: str) -> list[str]:
    assert cluster.server is not None
    r = httpx.get(f"{cluster.server.api}/buckets/{bucket}/history/{key}",
                  headers=cluster.server.token())
    version = r.json()["history"][-1]["data"]["version"]
    return [c["digest"] for c in version["chunks"]]


def _eventually(check: Any, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("not within the time allowed")
        time.sleep(0.1)


def test_every_chunk_has_three_replicas_in_three_zones(cluster: Cluster) -> None:
    assert cluster.server is not None
    s3 = make_client(cluster.server)
    s3.create_bucket(Bucket="spread")
    bodies = {f"k{n}": os.urandom(CHUNK * 2 + 1 + n) for n in range(4)}
    for key, body in bodies.items():
        s3.put_object(Bucket="spread", Key=key, Body=body)
    for key, body in bodies.items():
        digests = _digests(cluster, "spread", key)
        assert len(digests) == 3
        for digest in digests:
            # W=2 answer at once; the third replica lands just after.
            _eventually(lambda d=digest: len(cluster.holders(d)) == 3)
            assert {n.zone for n in cluster.holders(digest)} == {"zone-a", "zone-b", "zone-c"}
        assert s3.get_object(Bucket="spread", Key=key)["Body"].read() == body
    nodes = httpx.get(f"{cluster.server.api}/admin/nodes", headers=cluster.server.token())
    assert [n["up"] for n in nodes.json()["nodes"]] == [True, True, True]


def put_one_chunk(cluster: Cluster, bucket: str, body: bytes) -> str:
    """A new bucket holding `body` as key "k" (one chunk), once on all three nodes."""
    assert cluster.server is not None
    s3 = make_client(cluster.server)
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=body)
    [digest] = _digests(cluster, bucket, "k")
    _eventually(lambda: len(cluster.holders(digest)) == 3)
    return digest


def test_reads_skip_a_rotten_replica_and_report_it(cluster: Cluster) -> None:
    assert cluster.server is not None
    s3 = make_client(cluster.server)
    body = os.urandom(CHUNK)
    digest = put_one_chunk(cluster, "rot", body)
    for node in cluster.holders(digest)[:2]:  # two of three replicas rot
        rot_in_place(node.chunk_path(digest), 1234)
    for _ in range(3):
        assert s3.get_object(Bucket="rot", Key="k")["Body"].read() == body
    ranged = s3.get_object(Bucket="rot", Key="k", Range="bytes=1000-1999")["Body"].read()
    assert ranged == body[1000:2000]
    # Reported, then checked and replaced (by that report, or by the scrubber).
    _eventually(lambda: all(n.chunk_path(digest).exists()
                            and n.chunk_path(digest).read_bytes() == body
                            for n in cluster.nodes), seconds=30)


def test_a_node_killed_during_writes_loses_nothing_and_is_healed_around(cluster: Cluster) -> None:
    assert cluster.server is not None
    s3 = make_client(cluster.server)
    s3.create_bucket(Bucket="stream")
    acknowledged: dict[str, bytes] = {}
    stop = threading.Event()

    def write() -> None:
        n = 0
        while not stop.is_set() and n < 400:
            body = os.urandom(CHUNK // 4) + n.to_bytes(4, "big")
            try:
                s3.put_object(Bucket="stream", Key=f"obj-{n}", Body=body)
            except ClientError:
                pass  # refused while the node's death is being noticed: never acknowledged
            else:
                acknowledged[f"obj-{n}"] = body
            n += 1

    writer = threading.Thread(target=write)
    writer.start()
    time.sleep(1.0)
    dead = cluster.nodes[1]
    dead.kill()
    fourth = cluster.add_node("zone-d")
    cluster.register(fourth)
    time.sleep(2.0)
    stop.set()
    writer.join(60)
    assert len(acknowledged) > 20
    for key, body in acknowledged.items():
        assert s3.get_object(Bucket="stream", Key=key)["Body"].read() == body
    # Once the node is declared down, its chunks go back to three replicas on the
    # survivors and the node that joined.
    digests = [hashlib.sha256(body).hexdigest() for body in acknowledged.values()]
    alive = [n for n in cluster.nodes if n is not dead]
    _eventually(lambda: all(sum(n.chunk_path(d).exists() for n in alive) == 3
                            for d in digests), seconds=40)


def test_without_a_write_quorum_a_put_fails_cleanly(cluster: Cluster) -> None:
    assert cluster.server is not None
    s3 = make_client(cluster.server)
    s3.create_bucket(Bucket="quorum")
    cluster.nodes[0].kill()
    cluster.nodes[1].kill()
    time.sleep(2.5)  # past the test cluster's 1.5 s down-after
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket="quorum", Key="k", Body=b"needs two nodes")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert refused.value.response["Error"]["Code"] == "ServiceUnavailable"
    assert s3.list_objects_v2(Bucket="quorum").get("KeyCount") == 0
    history = httpx.get(f"{cluster.server.api}/buckets/quorum/history/k",
                        headers=cluster.server.token())
    assert history.status_code == 404


def test_collected_chunks_leave_every_node_and_shared_ones_stay(cluster: Cluster) -> None:
    assert cluster.server is not None
    s3 = make_client(cluster.server)
    s3.create_bucket(Bucket="gc-test")
    shared = os.urandom(CHUNK)
    s3.put_object(Bucket="gc-test", Key="one", Body=shared)
    s3.put_object(Bucket="gc-test", Key="copy", Body=shared)  # deduplicated: the same chunk
    s3.put_object(Bucket="gc-test", Key="gone", Body=os.urandom(CHUNK))
    [kept] = _digests(cluster, "gc-test", "one")
    [doomed] = _digests(cluster, "gc-test", "gone")
    _eventually(lambda: len(cluster.holders(doomed)) == 3 and len(cluster.holders(kept)) == 3)
    s3.delete_object(Bucket="gc-test", Key="gone")
    s3.delete_object(Bucket="gc-test", Key="one")
    _eventually(lambda: not cluster.holders(doomed), seconds=20)
    assert len(cluster.holders(kept)) == 3
    assert s3.get_object(Bucket="gc-test", Key="copy")["Body"].read() == shared
    assert hashlib.sha256(shared).hexdigest() == kept
