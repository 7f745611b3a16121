"""An object's ACL and a version brought back, through the native door (the console's
object details), over a real System: who may, and what a refusal leaves."""

from __future__ import annotations

from starlette.testclient import TestClient

BOB_AK, BOB_SK = "BOBOBJSETTINGS00001", "bob-object-settings-secret-0"


def _bob(client: TestClient) -> dict[str, str]:
    assert client.post("/admin/users", json={"name": "bob", "access_key": BOB_AK,
                                             "secret_key": BOB_SK}).status_code == 201
    token = client.post("/auth/token", json={"access_key": BOB_AK, "secret_key": BOB_SK})
    return {"authorization": f"Bearer {token.json()['token']}"}


def _put(client: TestClient, bucket: str, key: str, data: bytes) -> str:
    r = client.post(f"/buckets/{bucket}/upload", params={"key": key}, content=data)
    assert r.status_code == 201, r.text
    return str(r.json()["version_id"])


def test_an_objects_acl_is_read_and_changed_by_who_may(client: TestClient) -> None:
    bob = _bob(client)
    client.put("/buckets/shared")
    _put(client, "shared", "doc.txt", b"doc")
    assert client.get("/buckets/shared/object-acl/doc.txt").json()["grants"] == [
        {"grantee": "user:root", "permission": "FULL_CONTROL"}]
    assert client.get("/buckets/shared/objects/doc.txt", headers=bob).status_code == 403
    assert client.get("/buckets/shared/object-acl/doc.txt", headers=bob).status_code == 403
    refused = client.put("/buckets/shared/object-acl/doc.txt", headers=bob,
                         json={"acl": "public-read"})
    assert refused.status_code == 403
    assert client.get("/buckets/shared/objects/doc.txt", headers={"authorization": ""}
                      ).status_code == 403  # the refusal changed nothing
    changed = client.put("/buckets/shared/object-acl/doc.txt", json={"grants": [
        {"grantee": "user:root", "permission": "FULL_CONTROL"},
        {"grantee": "user:bob", "permission": "READ"}]})
    assert changed.status_code == 200, changed.text
    assert client.get("/buckets/shared/objects/doc.txt", headers=bob).content == b"doc"
    assert client.put("/buckets/shared/object-acl/doc.txt",
                      json={"acl": "no-such-canned-acl"}).status_code == 400
    assert client.get("/buckets/shared/object-acl/missing", headers=bob).status_code == 403
    assert client.get("/buckets/shared/object-acl/missing").status_code == 404


def test_a_version_is_brought_back_as_the_current_one(client: TestClient) -> None:
    client.put("/buckets/kept")
    assert client.put("/buckets/kept/versioning", json={"status": "Enabled"}).status_code == 200
    first = _put(client, "kept", "plan.txt", b"first plan")
    _put(client, "kept", "plan.txt", b"second plan")
    marker = client.delete("/buckets/kept/objects/plan.txt").json()
    r = client.post("/buckets/kept/restore-version", json={"key": "plan.txt",
                                                            "version_id": first})
    assert r.status_code == 201, r.text
    assert r.json()["restored_from"] == first and r.json()["version_id"] != first
    assert client.get("/buckets/kept/objects/plan.txt").content == b"first plan"
    versions = client.get("/buckets/kept/list", params={"versions": "true"}).json()
    assert len(versions["objects"]) == 4  # nothing was rewritten: a new version on top
    assert client.post("/buckets/kept/restore-version", json={
        "key": "plan.txt", "version_id": marker["version_id"]}).status_code == 400
    assert client.post("/buckets/kept/restore-version", json={
        "key": "plan.txt", "version_id": "nope"}).status_code == 404
    bob = _bob(client)
    assert client.post("/buckets/kept/restore-version", headers=bob, json={
        "key": "plan.txt", "version_id": first}).status_code == 403
