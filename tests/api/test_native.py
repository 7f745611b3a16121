"""The native door through Starlette's TestClient, over a real System."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from infra.run.system import System, open_system
from infra.settings import Settings
from tests.conftest import ROOT_AK, ROOT_SK


def _upload(c: TestClient, bucket: str, key: str, data: bytes, **headers: str) -> dict:
    r = c.post(f"/buckets/{bucket}/upload", params={"key": key}, content=data, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def test_upload_download_range_and_metadata(client: TestClient) -> None:
    assert client.put("/buckets/docs").status_code == 201
    body = bytes(range(256)) * 1000  # several 64 KiB chunks
    meta = _upload(client, "docs", "dir/file.bin", body, **{"x-meta-Color": "blue",
                                                             "content-type": "app/x"})
    assert meta["size_bytes"] == len(body) and meta["metadata"] == {"color": "blue"}
    got = client.get("/buckets/docs/dir/file.bin")
    assert got.content == body and got.headers["x-meta-color"] == "blue"
    part = client.get("/buckets/docs/dir/file.bin", headers={"range": "bytes=65530-65545"})
    assert part.status_code == 206 and part.content == body[65530:65546]
    assert part.headers["content-range"] == f"bytes 65530-65545/{len(body)}"
    assert client.get("/buckets/docs/dir/file.bin",
                      headers={"range": f"bytes={len(body)}-"}).status_code == 416


def test_multipart_form_upload_uses_the_file_name(client: TestClient) -> None:
    client.put("/buckets/docs")
    r = client.post("/buckets/docs/upload", files={"file": ("notes.txt", b"hi", "text/plain")})
    assert r.status_code == 201 and r.json()["key"] == "notes.txt"
    assert r.json()["content_type"] == "text/plain"
    assert client.get("/buckets/docs/notes.txt").content == b"hi"


def test_colliding_keys_are_reachable_through_objects(client: TestClient) -> None:
    client.put("/buckets/docs")
    for key in ["list", "upload", "acl", "meta/x", "objects/y"]:
        _upload(client, "docs", key, key.encode())
        assert client.get(f"/buckets/docs/objects/{key}").content == key.encode()


def test_versioning_delete_markers_and_listing_versions(client: TestClient) -> None:
    client.put("/buckets/docs")
    assert client.put("/buckets/docs/versioning", json={"status": "Enabled"}).status_code == 200
    v1 = _upload(client, "docs", "k", b"one")["version_id"]
    _upload(client, "docs", "k", b"two")
    deleted = client.delete("/buckets/docs/k").json()
    assert deleted["delete_marker"] is True
    assert client.get("/buckets/docs/k").status_code == 404
    assert client.get("/buckets/docs/k", params={"version_id": v1}).content == b"one"
    assert client.get("/buckets/docs/meta/k").json()["is_deleted"] is True
    versions = client.get("/buckets/docs/list", params={"versions": "true"}).json()["objects"]
    assert [v["is_delete_marker"] for v in versions] == [True, False, False]
    client.delete("/buckets/docs/k", params={"version_id": deleted["version_id"]})
    assert client.get("/buckets/docs/k").content == b"two"


def test_listing_pages_with_a_cursor(client: TestClient) -> None:
    client.put("/buckets/docs")
    for i in range(5):
        _upload(client, "docs", f"k{i}", b"x")
    first = client.get("/buckets/docs/list", params={"limit": 2}).json()
    assert [o["key"] for o in first["objects"]] == ["k0", "k1"] and first["is_truncated"]
    rest = client.get("/buckets/docs/list", params={"limit": 10,
                                                    "cursor": first["next_cursor"]}).json()
    assert [o["key"] for o in rest["objects"]] == ["k2", "k3", "k4"]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("put", "/buckets/Bad_Name", {}, 400, "InvalidBucketName"),
        ("post", "/buckets/docs/upload", {"params": {"key": "k" * 1025}, "content": b"x"},
         400, "InvalidObjectKey"),
        ("post", "/auth/token", {"content": b"{not json"}, 400, "MalformedRequest"),
        ("put", "/buckets/docs/acl", {"json": {"acl": "everyone"}}, 400, "InvalidArgument"),
        ("post", "/buckets/docs/upload",
         {"params": {"key": "k"}, "content": b"x", "headers": {"x-meta-big": "v" * 2100}},
         400, "MetadataTooLarge"),
        ("get", "/buckets/docs/list", {"params": {"cursor": "!!"}}, 400, "MalformedRequest"),
        ("get", "/buckets/docs/list", {"params": {"limit": "0"}}, 400, "MalformedRequest"),
        ("get", "/buckets/nope/k", {}, 404, "NoSuchBucket"),
        ("get", "/buckets/docs/missing", {}, 404, "NoSuchKey"),
        ("put", "/buckets/docs", {}, 409, "BucketAlreadyOwnedByYou"),
    ],
)
def test_bad_input_gets_a_clear_error_and_stores_nothing(
    client: TestClient, method: str, path: str, kwargs: dict, status: int, code: str
) -> None:
    client.put("/buckets/docs")
    r = getattr(client, method)(path, **kwargs)
    assert (r.status_code, r.json()["error"]) == (status, code), r.text
    assert r.json()["request_id"] == r.headers["x-request-id"]
    assert client.get("/buckets/docs/list").json()["objects"] == []


def test_missing_and_bad_tokens_are_refused(client: TestClient) -> None:
    anonymous = {"authorization": ""}
    assert client.get("/buckets", headers=anonymous).status_code == 401
    bad = client.get("/buckets", headers={"authorization": "Bearer not.a.token"})
    assert bad.status_code == 401 and "POST /auth/token" in bad.json()["message"]
    wrong = client.post("/auth/token", json={"access_key": ROOT_AK, "secret_key": "nope-nope"})
    assert wrong.status_code == 401


def test_anonymous_reads_only_where_an_acl_allows(client: TestClient) -> None:
    client.put("/buckets/docs")
    _upload(client, "docs", "k", b"secret")
    anon = {"authorization": ""}
    assert client.get("/buckets/docs/k", headers=anon).status_code == 403
    assert client.get("/buckets/docs/list", headers=anon).status_code == 403
    client.put("/buckets/docs/acl", json={"acl": "public-read"})
    assert client.get("/buckets/docs/list", headers=anon).status_code == 200
    assert client.get("/buckets/docs/k", headers=anon).status_code == 403  # object ACL rules
    assert client.post("/buckets/docs/upload", params={"key": "x"}, content=b"x",
                       headers=anon).status_code == 403


def test_users_keys_and_grants(client: TestClient) -> None:
    bob_secret = "bob-secret-123-000000000"
    r = client.post("/admin/users", json={"name": "bob", "access_key": "BOBACCESSKEY00001",
                                          "secret_key": bob_secret})
    assert r.status_code == 201
    bob_token = client.post("/auth/token", json={"access_key": "BOBACCESSKEY00001",
                                                 "secret_key": bob_secret}).json()["token"]
    bob = {"authorization": f"Bearer {bob_token}"}
    client.put("/buckets/docs")
    assert client.get("/buckets/docs/list", headers=bob).status_code == 403
    assert client.post("/admin/users", json={"name": "eve"}, headers=bob).status_code == 403
    client.put("/buckets/docs/acl", json={"grants": [{"grantee": "user:bob",
                                                      "permission": "WRITE"}]})
    assert client.post("/buckets/docs/upload", params={"key": "b"}, content=b"x",
                       headers=bob).status_code == 201
    assert client.get("/buckets", headers=bob).json()["buckets"] == []
    dup = client.post("/admin/users", json={"name": "bob2", "access_key": "BOBACCESSKEY00001",
                                            "secret_key": "another-secret-000000000"})
    assert dup.status_code == 409


def test_secrets_are_stored_encrypted(sqlite_settings: Settings) -> None:
    system: System = open_system(sqlite_settings)
    system.close()
    raw = (sqlite_settings.data_dir / "events.sqlite3").read_bytes()
    assert ROOT_AK.encode() in raw and ROOT_SK.encode() not in raw


def test_durability_in_the_embedded_shape(client: TestClient) -> None:
    client.put("/buckets/docs")
    client.post("/buckets/docs/upload", params={"key": "k"}, content=b"x" * 100)
    report = client.get("/admin/durability").json()
    assert report == {"replicas": 1, "backend": "local", "chunks": 1, "under_replicated": 0}
    assert client.get("/buckets/docs/durability").json() == {
        "bucket": "docs", "chunks": 1, "under_replicated": 0, "replicas": 1}
