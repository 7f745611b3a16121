"""One blob node process: signed requests only, chunks checked against their names,
ranges, paged inventory, idle-aware deletes, and durability across kill -9."""

from __future__ import annotations

import hashlib
import os
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from domain.records import Chunk
from infra.blobs.node_auth import presigned_query, signed_headers
from infra.blobs.node_client import ChunkCorrupt, ChunkMissing, NodeClient, NodeError
from tests.conftest import free_port
from tests.nodes.conftest import SECRET, Node, rot_in_place


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    running = Node(tmp_path / "node", free_port(), "zone-a")
    running.start()
    try:
        yield running
    finally:
        running.stop()


def _chunk(data: bytes) -> dict:
    return {"digest": hashlib.sha256(data).hexdigest(), "size": len(data)}


def test_chunks_round_trip_with_ranges_and_inventory(node: Node) -> None:
    client = node.client()
    blobs = [os.urandom(1000 + n) for n in range(5)]
    for data in blobs:
        client.put(_chunk(data)["digest"], data)
    first = _chunk(blobs[0])
    assert client.get(first) == blobs[0]
    assert client.get(first, 10, 20) == blobs[0][10:20]
    assert client.holds(first["digest"]) and client.touch(first["digest"])
    page, after = client.inventory_page("", limit=2)
    rest, end = client.inventory_page(after or "", limit=10)
    assert end is None
    assert [c.digest for c in page + rest] == sorted(_chunk(b)["digest"] for b in blobs)
    assert client.delete_if_idle(first["digest"], 3600) is None  # not idle that long
    assert client.delete_if_idle(first["digest"], 0) == len(blobs[0])
    assert not client.holds(first["digest"])
    with pytest.raises(ChunkMissing):
        client.get(first)


def test_unsigned_or_wrongly_signed_requests_are_refused(node: Node) -> None:
    digest = "ab" * 32
    assert httpx.get(f"{node.url}/health").status_code == 403
    assert httpx.put(f"{node.url}/chunks/{digest}", content=b"x").status_code == 403
    forged = signed_headers("another-secret-0000000000", "PUT", f"/chunks/{digest}")
    assert httpx.put(f"{node.url}/chunks/{digest}", content=b"x",
                     headers=forged).status_code == 403
    stale = {"x-strata-date": "1000", "x-strata-signature": "00"}
    assert httpx.get(f"{node.url}/health", headers=stale).status_code == 403
    expired = presigned_query(SECRET, "PUT", f"/chunks/{digest}", 1000)
    assert httpx.put(f"{node.url}/chunks/{digest}?{expired}", content=b"x").status_code == 403
    assert not node.chunk_path(digest).exists()
    bad_limit = httpx.get(f"{node.url}/chunks?limit=x",
                          headers=signed_headers(SECRET, "GET", "/chunks", {"limit": "x"}))
    assert bad_limit.status_code == 400
    bad_name = httpx.get(f"{node.url}/chunks/not-a-digest?size=1",
                         headers=signed_headers(SECRET, "GET", "/chunks/not-a-digest",
                                                {"size": "1"}))
    assert bad_name.status_code == 400


def test_a_chunk_is_kept_only_if_its_bytes_match_its_name(node: Node) -> None:
    digest = hashlib.sha256(b"the real bytes").hexdigest()
    with pytest.raises(NodeError, match="400"):
        node.client().put(digest, b"other bytes")
    assert not node.chunk_path(digest).exists()
    assert not list((node.data_dir / "chunks" / "tmp").iterdir())


def test_rot_after_a_read_is_found_by_the_next_read(node: Node) -> None:
    """The scrubber checks replicas through GET: a node must read its disk every time."""
    data = os.urandom(5000)
    chunk = _chunk(data)
    node.client().put(chunk["digest"], data)
    assert node.client().get(chunk) == data
    rot_in_place(node.chunk_path(chunk["digest"]), 100)
    with pytest.raises(ChunkCorrupt):
        node.client().get(chunk)


def test_a_rotten_chunk_is_never_served(node: Node) -> None:
    data = os.urandom(5000)
    chunk = _chunk(data)
    node.client().put(chunk["digest"], data)
    rot_in_place(node.chunk_path(chunk["digest"]), 100)
    with pytest.raises(ChunkCorrupt):
        node.client().get(chunk)


def test_acknowledged_chunks_survive_kill_9(node: Node) -> None:
    stored = []
    for n in range(20):
        data = os.urandom(2000) + bytes([n])
        node.client().put(_chunk(data)["digest"], data)
        stored.append(data)
    node.kill()
    node.start()
    for data in stored:
        assert node.client().get(_chunk(data)) == data


def test_a_signed_request_cannot_be_replayed_or_given_another_query(node: Node) -> None:
    listing = signed_headers(SECRET, "GET", "/chunks", {"limit": "1"})
    assert httpx.get(f"{node.url}/chunks?limit=1", headers=listing).status_code == 200
    replayed = httpx.get(f"{node.url}/chunks?limit=1", headers=listing)
    assert replayed.status_code == 403 and "replay" in replayed.text
    other = signed_headers(SECRET, "GET", "/chunks", {"limit": "1"})
    changed = httpx.get(f"{node.url}/chunks?limit=1000", headers=other)
    assert changed.status_code == 403 and "signature" in changed.text
    digest = hashlib.sha256(b"kept").hexdigest()
    node.client().put(digest, b"kept")
    delete = signed_headers(SECRET, "DELETE", f"/chunks/{digest}", {"idle": "3600.0"})
    assert httpx.delete(f"{node.url}/chunks/{digest}?idle=0",
                        headers=delete).status_code == 403  # idle 3600 was signed, not 0
    assert node.chunk_path(digest).exists()


def test_a_read_racing_the_chunk_s_arrival_is_missing_never_corrupt(node: Node) -> None:
    # Issue 20, item 4: a GET that found no file, then saw the file a write had just put
    # in place, answered 409 CorruptChunk, and a good replica was reported corrupt.
    writer, reader = node.client(), NodeClient(node.client().ref, node.url, SECRET, 10.0)
    answers: Counter[str] = Counter()
    try:
        for n in range(300):
            data = os.urandom(2048) + n.to_bytes(4, "big")
            chunk = {"digest": hashlib.sha256(data).hexdigest(), "size": len(data)}
            done = threading.Event()

            def read(chunk: Chunk = chunk, done: threading.Event = done) -> None:
                while not done.is_set():
                    try:
                        reader.get(chunk)
                        answers["ok"] += 1
                        return
                    except ChunkMissing:
                        answers["missing"] += 1
                    except ChunkCorrupt:
                        answers["corrupt"] += 1

            racing = threading.Thread(target=read)
            racing.start()
            writer.put(chunk["digest"], data)
            racing.join(10)
            done.set()
    finally:
        reader.close()
    assert answers["corrupt"] == 0, answers
    assert answers["ok"] == 300


def test_a_node_says_its_chunks_disk_and_requests_on_metrics(node: Node) -> None:
    """Issue 26: a blob node's own series, unsigned like any /metrics; its requests
    counted by operation and status class."""
    from tests.conftest import metric_value

    client = node.client()
    stored = [os.urandom(2000 + n) for n in range(3)]
    for data in stored:
        client.put(_chunk(data)["digest"], data)
    client.get(_chunk(stored[0]))
    with pytest.raises(ChunkMissing):
        client.get(_chunk(b"never stored"))
    assert httpx.get(f"{node.url}/health").status_code == 403  # unsigned: refused, counted

    text = httpx.get(f"{node.url}/metrics", timeout=10).text
    labels = f'{{node="{client.node_id}",zone="zone-a"}}'
    assert metric_value(text, f"strata_node_chunks{labels}") == 3
    assert metric_value(text, f"strata_node_chunk_bytes{labels}") == sum(map(len, stored))
    total = metric_value(text, f"strata_node_disk_total_bytes{labels}")
    assert 0 < metric_value(text, f"strata_node_disk_free_bytes{labels}") < total

    def requests(operation: str, status: str) -> float:
        return metric_value(text, f'strata_requests_total{{code="",door="node",'
                                  f'operation="{operation}",status="{status}"}}')
    assert requests("put_chunk", "2xx") == 3
    assert requests("get_chunk", "2xx") == 1 and requests("get_chunk", "4xx") == 1
    assert requests("health", "4xx") == 1
    assert metric_value(text, 'strata_request_bytes_in_total{door="node"}') >= sum(
        map(len, stored))
    assert metric_value(text, 'strata_requests_refused_total{door="node",reason="403"}') == 1


def test_a_nodes_metrics_want_the_token_when_one_is_set(tmp_path: Path) -> None:
    """STRATA_METRICS_TOKEN closes every /metrics page, a blob node's (and the relay's,
    which is the same page) included."""
    from starlette.testclient import TestClient

    from infra.run.node_server import BlobNode, create_node_app

    app = create_node_app(BlobNode(tmp_path / "node", "zone-a", SECRET), "scrape-token")
    with TestClient(app) as client:
        assert client.get("/metrics").status_code == 401
        wrong = client.get("/metrics", headers={"authorization": "Bearer other"})
        assert wrong.status_code == 401
        right = client.get("/metrics", headers={"authorization": "Bearer scrape-token"})
        assert right.status_code == 200 and "strata_node_chunks" in right.text
