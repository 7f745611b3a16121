"""Issue 22, item 1: remote sites for geo-replication, registered by administrators
through the native API and `strata site`; the secret is kept encrypted and never shown."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

from starlette.testclient import TestClient

from tests.conftest import ROOT_AK, ROOT_SK, Server

EU = {"endpoint": "http://127.0.0.1:19001", "access_key": "EUREPLICATOR0000001",
      "secret_key": "eu-site-secret-key-0123456789"}


def test_an_administrator_registers_lists_changes_and_removes_a_site(
    client: TestClient, sqlite_settings: object,
) -> None:
    r = client.put("/admin/sites/eu", json=EU)
    assert r.status_code == 201, r.text
    assert r.json() == {"name": "eu", "endpoint": EU["endpoint"],
                        "access_key": EU["access_key"]}
    moved = {**EU, "endpoint": "https://eu.example:9001/"}
    r = client.put("/admin/sites/eu", json=moved)
    assert r.status_code == 200 and r.json()["endpoint"] == "https://eu.example:9001"
    assert client.get("/admin/sites/eu").json()["endpoint"] == "https://eu.example:9001"
    assert client.get("/admin/sites").json() == {"sites": [
        {"name": "eu", "endpoint": "https://eu.example:9001",
         "access_key": EU["access_key"]}]}
    assert client.delete("/admin/sites/eu").status_code == 204
    assert client.get("/admin/sites/eu").status_code == 404
    assert client.delete("/admin/sites/eu").json()["error"] == "NoSuchSite"
    assert client.get("/admin/sites").json() == {"sites": []}
    assert client.put("/admin/sites/eu", json=EU).status_code == 201  # back after removal

    # The secret is in no answer, no event envelope, and not in plain form on disk.
    audit = client.get("/audit", params={"from": 0}).text
    assert "SiteRegistered" in audit and "SiteRemoved" in audit
    assert EU["secret_key"] not in audit and "secret_ciphertext" not in audit
    data_dir = sqlite_settings.data_dir  # type: ignore[attr-defined]
    with sqlite3.connect(data_dir / "events.sqlite3") as db:
        stored = b"".join(row[0] for row in db.execute("SELECT state FROM stored_events"))
    assert EU["access_key"].encode() in stored and EU["secret_key"].encode() not in stored


def test_only_administrators_manage_sites_and_bad_input_stores_nothing(
    client: TestClient,
) -> None:
    r = client.post("/admin/users", json={"name": "bob", "access_key": "BOBACCESSKEY00001",
                                           "secret_key": "bob-secret-key-0123456789"})
    assert r.status_code == 201, r.text
    token = client.post("/auth/token", json={"access_key": "BOBACCESSKEY00001",
                                             "secret_key": "bob-secret-key-0123456789"})
    bob = {"authorization": f"Bearer {token.json()['token']}"}
    assert client.put("/admin/sites/eu", json=EU, headers=bob).status_code == 403
    assert client.get("/admin/sites", headers=bob).status_code == 403
    assert client.delete("/admin/sites/eu", headers=bob).status_code == 403
    bad = [
        ("EU", EU),  # uppercase
        ("-eu", EU),
        ("x" * 64, EU),
        ("eu", {**EU, "endpoint": "ftp://eu.example"}),
        ("eu", {**EU, "endpoint": "http://user:pw@eu.example"}),
        ("eu", {**EU, "endpoint": "http://eu.example/?q=1"}),
        ("eu", {**EU, "endpoint": "http://" + "e" * 2100}),
        ("eu", {**EU, "access_key": ""}),
        ("eu", {**EU, "access_key": "k" * 129}),
        ("eu", {**EU, "secret_key": "s" * 129}),
        ("eu", {**EU, "secret_key": "bad\nsecret"}),
        ("eu", {"endpoint": EU["endpoint"], "access_key": EU["access_key"]}),
        ("eu", {**EU, "endpoint": 9001}),
    ]
    for name, body in bad:
        r = client.put(f"/admin/sites/{name}", json=body)
        assert r.status_code == 400, (name, body, r.text)
    assert client.get("/admin/sites").json() == {"sites": []}
    assert "SiteRegistered" not in client.get("/audit", params={"from": 0}).text


def test_strata_site_add_list_remove(server: Server) -> None:
    def strata(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "infra.run.cli", "site", *args, "--url", server.api,
             "--access-key", ROOT_AK, "--secret-key", ROOT_SK],
            capture_output=True, text=True, timeout=60)

    added = strata("add", "eu", "--endpoint", EU["endpoint"], "--site-access-key",
                   EU["access_key"], "--site-secret-key", EU["secret_key"])
    assert added.returncode == 0, added.stderr
    assert "eu" in added.stdout and EU["secret_key"] not in added.stdout
    listed = strata("list")
    assert listed.returncode == 0 and f"eu\t{EU['endpoint']}\t{EU['access_key']}" in listed.stdout
    assert strata("remove", "eu").returncode == 0
    missing = strata("remove", "eu")
    assert missing.returncode != 0 and "No site named 'eu'" in missing.stderr
    assert "Traceback" not in missing.stderr
