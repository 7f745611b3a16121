"""A blob-node cluster over TLS (issue 25, in transit): the store talks HTTPS to its
nodes, checking their certificates against the cluster's CA, and a direct upload goes
to the nodes over HTTPS; a node whose certificate the store does not trust is refused."""

from __future__ import annotations

import hashlib
import os
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from infra.tls import self_signed
from tests.conftest import free_port
from tests.nodes.conftest import Cluster, Node, start_cluster
from tests.nodes.test_cluster import CHUNK, _eventually
from tests.s3.conftest import make_client


@pytest.fixture
def tls_cluster(tmp_path: Path) -> Iterator[tuple[Cluster, Path]]:
    cert, key = self_signed(tmp_path / "ca", ["127.0.0.1"])
    running = start_cluster(tmp_path, ["zone-a", "zone-b", "zone-c"], tls=(cert, key))
    try:
        yield running, cert
    finally:
        running.stop()


def test_objects_and_direct_uploads_travel_over_tls(tls_cluster: tuple[Cluster, Path]) -> None:
    cluster, cert = tls_cluster
    assert cluster.server is not None
    assert all(node.url.startswith("https://") for node in cluster.nodes)
    s3 = make_client(cluster.server)
    s3.create_bucket(Bucket="secure")
    body = os.urandom(CHUNK * 2 + 5)
    s3.put_object(Bucket="secure", Key="k", Body=body)
    assert s3.get_object(Bucket="secure", Key="k")["Body"].read() == body
    digest = hashlib.sha256(body[:CHUNK]).hexdigest()
    _eventually(lambda: len(cluster.holders(digest)) == 3)

    piece = os.urandom(CHUNK)
    granted = httpx.post(
        f"{cluster.server.api}/buckets/secure/direct-upload", headers=cluster.server.token(),
        json={"chunks": [{"digest": hashlib.sha256(piece).hexdigest(), "size": len(piece)}]})
    assert granted.status_code == 201, granted.text
    urls = granted.json()["chunks"][0]["urls"]
    assert all(url.startswith("https://") for url in urls)
    trusted = ssl.create_default_context(cafile=str(cert))
    for url in urls[:2]:
        assert httpx.put(url, content=piece, verify=trusted).status_code == 201
    committed = httpx.post(f"{cluster.server.api}/buckets/secure/direct-upload/commit",
                           headers=cluster.server.token(),
                           json={"upload": granted.json()["upload"], "key": "direct.bin"})
    assert committed.status_code == 201, committed.text
    assert s3.get_object(Bucket="secure", Key="direct.bin")["Body"].read() == piece


def test_a_node_the_store_does_not_trust_is_refused(tls_cluster: tuple[Cluster, Path],
                                                     tmp_path: Path) -> None:
    cluster, _ = tls_cluster
    assert cluster.server is not None
    stranger = Node(tmp_path / "stranger", free_port(), "zone-a",
                    tls=self_signed(tmp_path / "other-ca", ["127.0.0.1"]))
    stranger.start()
    try:
        refused = httpx.post(f"{cluster.server.api}/admin/nodes", json={"url": stranger.url},
                             headers=cluster.server.token(), timeout=30)
        assert refused.status_code == 400, refused.text
        assert "CERTIFICATE_VERIFY_FAILED" in refused.text or "certificate" in refused.text
    finally:
        stranger.stop()
