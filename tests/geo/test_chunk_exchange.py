"""Issue 22, item 4: the receiving site says which chunks it lacks and takes only
those, each checked against its name; administrators only."""

from __future__ import annotations

import hashlib
import os

from starlette.testclient import TestClient


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_site_asks_which_chunks_are_missing_and_sends_only_those(
    client: TestClient,
) -> None:
    client.put("/buckets/here")
    kept = os.urandom(5000)
    assert client.post("/buckets/here/upload", params={"key": "k"},
                       content=kept).status_code == 201
    new = os.urandom(60_000)
    asked = [_digest(kept), _digest(new)]
    r = client.post("/replication/chunks/missing", json={"digests": asked})
    assert r.status_code == 200 and r.json() == {"missing": [_digest(new)]}

    wrong = client.put(f"/replication/chunks/{_digest(new)}", content=new[:-1] + b"x")
    assert wrong.status_code == 400 and wrong.json()["error"] == "BadDigest"
    too_big = os.urandom(64 * 1024 + 1)  # the test store's chunk size is 64 KiB
    r = client.put(f"/replication/chunks/{_digest(too_big)}", content=too_big)
    assert r.status_code == 400
    assert client.post("/replication/chunks/missing",
                       json={"digests": asked}).json() == {"missing": [_digest(new)]}

    r = client.put(f"/replication/chunks/{_digest(new)}", content=new)
    assert r.status_code == 201 and r.json() == {"digest": _digest(new), "size": len(new)}
    assert client.post("/replication/chunks/missing",
                       json={"digests": asked}).json() == {"missing": []}


def test_the_chunk_exchange_refuses_bad_requests_and_non_administrators(
    client: TestClient,
) -> None:
    for body in ({"digests": ["xyz"]}, {"digests": "ab" * 32}, {"digests": ["AB" * 32]},
                 {"digests": ["ab" * 32] * 1001}, {}):
        assert client.post("/replication/chunks/missing", json=body).status_code == 400
    assert client.put("/replication/chunks/not-a-digest", content=b"x").status_code == 400
    client.post("/admin/users", json={"name": "bob", "access_key": "BOBACCESSKEY00001",
                                      "secret_key": "bob-secret-key-0123456789"})
    token = client.post("/auth/token", json={"access_key": "BOBACCESSKEY00001",
                                             "secret_key": "bob-secret-key-0123456789"})
    bob = {"authorization": f"Bearer {token.json()['token']}"}
    assert client.post("/replication/chunks/missing", json={"digests": []},
                       headers=bob).status_code == 403
    data = b"sent by bob"
    assert client.put(f"/replication/chunks/{_digest(data)}", content=data,
                      headers=bob).status_code == 403
    assert client.post("/replication/chunks/missing", json={"digests": [_digest(data)]}
                       ).json() == {"missing": [_digest(data)]}
