"""Issue 22: the receiving side's apply endpoint and the rule status, through the native
door: administrators only, every field of a change bounded, and a refused change (or
request) stores nothing."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from starlette.testclient import TestClient

BODY = b"replicated bytes"
DIGEST = hashlib.sha256(BODY).hexdigest()


def _put(key: str = "k", **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    version = {"version_id": "01ORIGINVERSION", "is_delete_marker": False,
               "created_at": now, "owner": "root", "size": len(BODY),
               "etag": hashlib.md5(BODY).hexdigest(), "sha256": DIGEST,
               "chunks": [{"digest": DIGEST, "size": len(BODY)}],
               "content_type": "text/plain", "headers": {}, "user_metadata": {},
               "acl": {"owner": "root", "grants": [{"grantee": "user:root",
                                                    "permission": "FULL_CONTROL"}]}}
    return {"bucket": "dst", "kind": "put", "key": key, "version": version, "time": now,
            "meta": {"actor": "ORIGINKEY", "request_id": "r", "source": "10.0.0.1",
                     "user_agent": "origin"},
            "origin_site": "site-a", "origin_position": 7, **changes}


def _bob(client: TestClient) -> dict[str, str]:
    client.post("/admin/users", json={"name": "bob", "access_key": "BOBACCESSKEY00001",
                                      "secret_key": "bob-secret-key-0123456789"})
    token = client.post("/auth/token", json={"access_key": "BOBACCESSKEY00001",
                                             "secret_key": "bob-secret-key-0123456789"})
    return {"authorization": f"Bearer {token.json()['token']}"}


def _object_events(client: TestClient) -> list[dict[str, Any]]:
    events = client.get("/audit", params={"from": 0}).json()["events"]
    return [e for e in events if e["type"].startswith("ObjectKey.")]


def test_only_administrators_apply_changes_or_learn_the_site_s_name(
        client: TestClient) -> None:
    client.put("/buckets/dst")
    client.put("/buckets/dst/versioning", json={"status": "Enabled"})
    bob = _bob(client)
    assert client.post("/replication/apply", json={"changes": [_put()]},
                       headers=bob).status_code == 403
    assert client.get("/replication/site", headers=bob).status_code == 403
    assert client.get("/buckets/dst/replication/status", headers=bob).status_code == 403
    assert _object_events(client) == []


def test_a_change_out_of_bounds_is_refused_and_stores_nothing(client: TestClient) -> None:
    client.put("/buckets/dst")
    client.put("/buckets/dst/versioning", json={"status": "Enabled"})
    frame = DIGEST.encode() + len(BODY).to_bytes(8, "big") + BODY
    assert client.post("/replication/chunks", content=frame).status_code == 201

    wrong = [
        _put(key="k" * 1025),
        _put(meta={"actor": "a", "request_id": "r", "source": "s", "user_agent": "u" * 1025}),
        _put(origin_site="Not A Site"),
        _put(origin_position=0),
        _put(time="yesterday"),
        _put(version={**_put()["version"], "user_metadata": {"x": "v" * 2049}}),
        _put(version={**_put()["version"], "size": len(BODY) + 1}),  # chunks do not add up
        _put(bucket="Not_A_Bucket"),
    ]
    r = client.post("/replication/apply", json={"changes": wrong})
    assert r.status_code == 200
    results = r.json()["results"]
    assert [x["status"] for x in results] == ["refused"] * len(wrong), results
    assert all(x["error"] in ("InvalidArgument", "InvalidBucketName", "MalformedRequest")
               for x in results), results
    for body in ({"changes": []}, {"changes": [_put()] * 101}, {"changes": "x"}, {}):
        assert client.post("/replication/apply", json=body).status_code == 400
    assert _object_events(client) == []  # nothing of any of them was stored

    r = client.post("/replication/apply", json={"changes": [_put()]})
    assert r.json()["results"] == [{"status": "applied"}]
    [created, put] = _object_events(client)
    assert (created["type"], put["type"], put["actor"]) == (
        "ObjectKey.Created", "ObjectKey.VersionPut", "ORIGINKEY")
    assert put["origin"] == {"site": "site-a", "position": 7}
