"""What the console's administration pages read: every user with its keys (the users
view, kept by events), the store's status (views, workers, GC, lifecycle), and who a
token names; and none of it for a caller who is not an administrator."""

from __future__ import annotations

from starlette.testclient import TestClient

BOB_AK, BOB_SK = "BOBADMINPAGES000001", "bob-admin-pages-secret-0000"


def _bob(client: TestClient) -> dict[str, str]:
    r = client.post("/admin/users", json={"name": "bob", "access_key": BOB_AK,
                                          "secret_key": BOB_SK})
    assert r.status_code == 201, r.text
    token = client.post("/auth/token", json={"access_key": BOB_AK, "secret_key": BOB_SK},
                        headers={"authorization": ""})
    return {"authorization": f"Bearer {token.json()['token']}"}


def test_users_are_listed_with_their_keys_as_they_change(client: TestClient) -> None:
    _bob(client)
    second = client.post("/admin/users/bob/keys", json={}).json()["access_key"]
    assert client.put(f"/admin/keys/{BOB_AK}", json={"active": False}).status_code == 200
    users = {u["name"]: u for u in client.get("/admin/users").json()["users"]}
    assert set(users) == {"root", "bob"} and users["root"]["admin"] is True
    assert {k["access_key"]: k["active"] for k in users["bob"]["keys"]} == {
        BOB_AK: False, second: True}
    assert client.delete(f"/admin/keys/{second}").status_code in (200, 204)
    users = {u["name"]: u for u in client.get("/admin/users").json()["users"]}
    assert [k["access_key"] for k in users["bob"]["keys"]] == [BOB_AK]
    assert client.delete("/admin/users/bob").status_code == 200
    assert [u["name"] for u in client.get("/admin/users").json()["users"]] == ["root"]


def test_the_status_says_how_far_behind_each_part_is(client: TestClient) -> None:
    client.put("/buckets/counted")
    status = client.get("/admin/status").json()
    assert status["role"] == "embedded" and status["log_position"] > 0
    assert status["views"]["healthy"] is True
    assert 0 <= status["views"]["behind_events"] <= status["log_position"]
    assert {w["name"] for w in status["workers"]} >= {"gc"}
    assert "relay" not in status  # no Kafka in the embedded store
    assert client.get("/auth/whoami").json() == {
        "user": "root", "access_key": "ROOTACCESSKEY0000001", "admin": True}


def test_a_user_who_is_not_an_administrator_reads_none_of_it(client: TestClient) -> None:
    bob = _bob(client)
    assert client.get("/auth/whoami", headers=bob).json()["admin"] is False
    for path in ("/admin/users", "/admin/status", "/admin/durability", "/audit"):
        r = client.get(path, headers=bob)
        assert r.status_code == 403 and r.json()["error"] == "AccessDenied", path
    assert client.get("/admin/status", headers={"authorization": ""}).status_code == 401
