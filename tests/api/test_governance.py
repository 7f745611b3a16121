"""The native door's tags and object lock (issue 23): same commands, same checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from starlette.testclient import TestClient

from api.app import create_native_app
from infra.run.system import open_system
from infra.settings import Settings
from tests.conftest import META, ROOT_AK, ROOT_SK, now


def _put(client: TestClient, bucket: str, key: str, body: bytes = b"x") -> str:
    answer = client.post(f"/buckets/{bucket}/upload", files={"file": (key, body)},
                         data={"key": key})
    assert answer.status_code in (200, 201), answer.text
    return str(answer.json()["version_id"])


def test_object_and_bucket_tags_through_the_native_door(client: TestClient) -> None:
    assert client.put("/buckets/tagged").status_code == 201
    _put(client, "tagged", "a/k")
    put = client.put("/buckets/tagged/tags/a/k", json={"tags": {"team": "blue"}})
    assert put.status_code == 200, put.text
    assert client.get("/buckets/tagged/tags/a/k").json()["tags"] == {"team": "blue"}
    assert client.get("/buckets/tagged/meta/a/k").json()["tags"] == {"team": "blue"}
    too_many = client.put("/buckets/tagged/tags/a/k",
                          json={"tags": {f"k{i}": "v" for i in range(11)}})
    assert too_many.status_code == 400 and too_many.json()["error"] == "TooManyTags"
    bad = client.put("/buckets/tagged/tags/a/k", json={"tags": {"aws:x": "v"}})
    assert bad.status_code == 400 and bad.json()["error"] == "InvalidTag"
    assert client.put("/buckets/tagged/tags/a/k", json={"tags": "no"}).status_code == 400
    assert client.get("/buckets/tagged/tags/a/k").json()["tags"] == {"team": "blue"}
    assert client.delete("/buckets/tagged/tags/a/k").status_code == 200
    assert client.get("/buckets/tagged/tags/a/k").json()["tags"] == {}
    assert client.put("/buckets/tagged/tags", json={"tags": {"cost": "1"}}).json()[
        "tags"] == {"cost": "1"}
    assert client.get("/buckets/tagged").json()["tags"] == {"cost": "1"}
    history = client.get("/buckets/tagged/history/a/k").json()["history"]
    assert [r["name"] for r in history][-2:] == ["s3:ObjectTagging:Put",
                                                "s3:ObjectTagging:Delete"]


def test_native_deletes_obey_object_lock(sqlite_settings: Settings) -> None:
    system = open_system(sqlite_settings)
    system.start()
    try:
        with TestClient(create_native_app(system)) as client:
            token = client.post("/auth/token",
                                json={"access_key": ROOT_AK, "secret_key": ROOT_SK})
            client.headers["authorization"] = f"Bearer {token.json()['token']}"
            assert client.put("/buckets/vault", json={"object_lock": True}).status_code == 201
            assert client.get("/buckets/vault").json()["object_lock"] is True
            version = _put(client, "vault", "k")
            until = (datetime.now(UTC) + timedelta(days=1)).isoformat()
            system.store.set_object_retention("vault", "k", version,
                                              {"mode": "GOVERNANCE", "until": until}, False,
                                              META, now())
            refused = client.delete(f"/buckets/vault/objects/k?version_id={version}")
            assert refused.status_code == 403 and refused.json()["error"] == "ObjectLocked"
            meta = client.get("/buckets/vault/meta/k").json()
            assert meta["retention"]["mode"] == "GOVERNANCE"
            bypassed = client.delete(f"/buckets/vault/objects/k?version_id={version}"
                                     "&bypass_governance=true")
            assert bypassed.status_code == 200, bypassed.text
    finally:
        system.close()
