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
    bundle = _digest(data).encode() + len(data).to_bytes(8, "big") + data
    assert client.post("/replication/chunks", content=bundle, headers=bob).status_code == 403
    assert client.post("/replication/chunks/missing", json={"digests": [_digest(data)]}
                       ).json() == {"missing": [_digest(data)]}


def _frames(chunks: list[tuple[str, bytes]]) -> bytes:
    return b"".join(d.encode() + len(c).to_bytes(8, "big") + c for d, c in chunks)


def test_small_chunks_travel_in_one_bundle_checked_whole_before_any_is_kept(
    client: TestClient,
) -> None:
    chunks = [os.urandom(n) for n in (10, 4096, 60_000)]
    named = [(_digest(c), c) for c in chunks]
    asked = {"digests": [d for d, _ in named]}

    spoiled = [*named[:2], (named[2][0], named[2][1][:-1] + b"x")]
    r = client.post("/replication/chunks", content=_frames(spoiled))
    assert r.status_code == 400 and r.json()["error"] == "BadDigest"
    cut = _frames(named)[:-1]  # ends inside the last chunk
    assert client.post("/replication/chunks", content=cut).status_code == 400
    assert client.post("/replication/chunks", content=_frames(named)[:70]).status_code == 400
    big = os.urandom(64 * 1024 + 1)  # larger than a chunk of the test store
    assert client.post("/replication/chunks",
                       content=_frames([(_digest(big), big)])).status_code == 400
    # nothing of a refused bundle was kept, not even its good chunks
    assert client.post("/replication/chunks/missing", json=asked).json() == {
        "missing": asked["digests"]}

    r = client.post("/replication/chunks", content=_frames(named))
    assert r.status_code == 201 and r.json() == {"stored": 3}
    assert client.post("/replication/chunks/missing", json=asked).json() == {"missing": []}
