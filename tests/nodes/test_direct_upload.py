"""Direct upload: chunks go straight to the nodes on signed URLs; a commit records the
object once every chunk is on the write quorum; an abandoned upload is collected."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.nodes.conftest import Cluster, start_cluster
from tests.nodes.test_cluster import CHUNK, _eventually
from tests.s3.conftest import make_client


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One cluster for the module: no test here stops or changes a node, and each has a
    bucket of its own."""
    running = start_cluster(tmp_path_factory.mktemp("direct"), ["zone-a", "zone-b", "zone-c"])
    try:
        yield running
    finally:
        running.stop()


def _split(body: bytes) -> list[dict[str, Any]]:
    return [{"digest": hashlib.sha256(body[i:i + CHUNK]).hexdigest(),
             "size": len(body[i:i + CHUNK]), "data": body[i:i + CHUNK]}
            for i in range(0, len(body), CHUNK)]


def _grant(cluster: Cluster, bucket: str, pieces: list[dict[str, Any]]) -> dict[str, Any]:
    assert cluster.server is not None
    r = httpx.post(f"{cluster.server.api}/buckets/{bucket}/direct-upload",
                   json={"chunks": [{"digest": p["digest"], "size": p["size"]} for p in pieces]},
                   headers=cluster.server.token())
    assert r.status_code == 201, r.text
    return r.json()


def _send(granted: dict[str, Any], pieces: list[dict[str, Any]], copies: int = 3) -> None:
    for placed, piece in zip(granted["chunks"], pieces, strict=True):
        assert len(placed["urls"]) == 3
        for url in placed["urls"][:copies]:
            assert httpx.put(url, content=piece["data"]).status_code == 201


def test_a_direct_upload_works_end_to_end(cluster: Cluster) -> None:
    assert cluster.server is not None
    s3 = make_client(cluster.server)
    s3.create_bucket(Bucket="direct")
    body = os.urandom(CHUNK * 3 + 123)
    pieces = _split(body)
    granted = _grant(cluster, "direct", pieces)
    _send(granted, pieces, copies=2)  # the write quorum is enough; replication adds the third
    r = httpx.post(f"{cluster.server.api}/buckets/direct/direct-upload/commit",
                   json={"upload": granted["upload"], "key": "big.bin",
                         "content_type": "application/x-test", "metadata": {"via": "direct"}},
                   headers=cluster.server.token())
    assert r.status_code == 201, r.text
    got = s3.get_object(Bucket="direct", Key="big.bin")
    assert got["Body"].read() == body and got["Metadata"] == {"via": "direct"}
    _eventually(lambda: all(len(cluster.holders(p["digest"])) == 3 for p in pieces))


def test_a_commit_without_the_chunks_on_a_quorum_records_nothing(cluster: Cluster) -> None:
    assert cluster.server is not None
    s3 = make_client(cluster.server)
    s3.create_bucket(Bucket="short")
    pieces = _split(os.urandom(CHUNK + 5))
    granted = _grant(cluster, "short", pieces)
    _send(granted, pieces, copies=1)
    api, auth = cluster.server.api, cluster.server.token()
    r = httpx.post(f"{api}/buckets/short/direct-upload/commit",
                   json={"upload": granted["upload"], "key": "k"}, headers=auth)
    assert r.status_code == 503, r.text
    assert s3.list_objects_v2(Bucket="short").get("KeyCount") == 0
    forged = granted["upload"][:-4] + "AAAA"
    bad = httpx.post(f"{api}/buckets/short/direct-upload/commit",
                     json={"upload": forged, "key": "k"}, headers=auth)
    assert bad.status_code == 400
    as_bearer = httpx.get(f"{api}/buckets", headers={"authorization":
                                                      f"Bearer {granted['upload']}"})
    assert as_bearer.status_code == 401
    bearer_as_grant = httpx.post(f"{api}/buckets/short/direct-upload/commit", headers=auth,
                                 json={"upload": auth["authorization"][7:], "key": "k"})
    assert bearer_as_grant.status_code == 400
    elsewhere = httpx.post(f"{api}/buckets/direct/direct-upload/commit",
                           json={"upload": granted["upload"], "key": "k"}, headers=auth)
    assert elsewhere.status_code in (400, 404)
    tampered = pieces[0]["data"][:-1] + b"!"
    assert httpx.put(granted["chunks"][0]["urls"][1], content=tampered).status_code == 400
    unsigned = granted["chunks"][0]["urls"][1].split("?")[0]
    assert httpx.put(unsigned, content=pieces[0]["data"]).status_code == 403


def test_an_abandoned_direct_upload_is_collected(cluster: Cluster) -> None:
    assert cluster.server is not None
    make_client(cluster.server).create_bucket(Bucket="abandon")
    pieces = _split(os.urandom(CHUNK * 2))
    _send(_grant(cluster, "abandon", pieces), pieces)
    assert all(len(cluster.holders(p["digest"])) == 3 for p in pieces)
    _eventually(lambda: not any(cluster.holders(p["digest"]) for p in pieces), seconds=20)


def test_a_commit_cannot_claim_a_chunk_its_uploader_never_sent(cluster: Cluster) -> None:
    """Issue 19, item 3: another user's chunk digest alone does not give its bytes."""
    assert cluster.server is not None
    server = cluster.server
    root = make_client(server)
    secret_body = os.urandom(CHUNK)
    root.create_bucket(Bucket="victim")
    root.put_object(Bucket="victim", Key="secret", Body=secret_body)
    made = httpx.post(f"{server.api}/admin/users", json={"name": "mallory"},
                      headers=server.token()).json()
    mallory = server.token(made["access_key"], made["secret_key"])
    httpx.put(f"{server.api}/buckets/loot", headers=mallory).raise_for_status()
    stolen = [{"digest": hashlib.sha256(secret_body).hexdigest(), "size": len(secret_body)}]
    granted = httpx.post(f"{server.api}/buckets/loot/direct-upload", json={"chunks": stolen},
                         headers=mallory).json()
    claimed = httpx.post(f"{server.api}/buckets/loot/direct-upload/commit", headers=mallory,
                         json={"upload": granted["upload"], "key": "mine"})
    assert claimed.status_code == 403 and claimed.json()["error"] == "AccessDenied"
    assert httpx.get(f"{server.api}/buckets/loot/list", headers=mallory).json()["objects"] == []
    # Chunks sent under another grant do not count for this one either.
    other = httpx.post(f"{server.api}/buckets/loot/direct-upload", json={"chunks": stolen},
                       headers=mallory).json()
    assert other["upload"] != granted["upload"]


def test_a_commit_naming_the_wrong_size_is_refused(cluster: Cluster) -> None:
    assert cluster.server is not None
    make_client(cluster.server).create_bucket(Bucket="sizes")
    pieces = _split(os.urandom(1000))
    lying = [{**pieces[0], "size": 999}]
    granted = _grant(cluster, "sizes", lying)
    _send(granted, pieces)
    r = httpx.post(f"{cluster.server.api}/buckets/sizes/direct-upload/commit",
                   json={"upload": granted["upload"], "key": "k"},
                   headers=cluster.server.token())
    assert r.status_code == 400 and "1000" in r.json()["message"], r.text
    assert make_client(cluster.server).list_objects_v2(Bucket="sizes")["KeyCount"] == 0
