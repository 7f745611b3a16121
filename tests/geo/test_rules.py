"""Issue 22, item 2: replication rules per bucket, through the native door and S3's
Put/Get/DeleteBucketReplication (the AWS CLI unchanged), with S3's refusals."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from tests.conftest import Server
from tests.geo.test_sites import EU
from tests.s3.test_cli_tools import _tool, aws_env  # noqa: F401 - a fixture, used by name

RULES = {"rules": [{"id": "r1", "prefix": "docs/",
                    "destination": {"site": "eu", "bucket": "photos-eu"},
                    "delete_markers": True}]}


def test_rules_need_versioning_a_registered_site_and_valid_fields(client: TestClient) -> None:
    assert client.put("/buckets/photos").status_code == 201
    client.put("/admin/sites/eu", json=EU)
    r = client.put("/buckets/photos/replication", json=RULES)
    assert r.status_code == 400 and r.json()["error"] == "InvalidRequest"
    assert "Versioning must be 'Enabled'" in r.json()["message"]
    client.put("/buckets/photos/versioning", json={"status": "Enabled"})
    assert client.get("/buckets/photos/replication").status_code == 404

    r = client.put("/buckets/photos/replication", json=RULES)
    assert r.status_code == 200, r.text
    expected = {"rules": [{"id": "r1", "prefix": "docs/", "priority": 1, "status": "Enabled",
                           "destination": {"site": "eu", "bucket": "photos-eu"},
                           "delete_markers": True}]}
    assert r.json() == expected
    assert client.get("/buckets/photos/replication").json() == expected

    r = client.put("/buckets/photos/versioning", json={"status": "Suspended"})
    assert r.status_code == 409 and r.json()["error"] == "InvalidBucketState"

    def rule(**changes: object) -> dict:
        return {"rules": [{**RULES["rules"][0], **changes}]}

    refused = [
        rule(destination={"site": "asia", "bucket": "b"}),  # not registered
        rule(destination={"site": "EU", "bucket": "b"}),
        rule(destination={"site": "eu", "bucket": "Not_A_Bucket"}),
        rule(prefix="p" * 1025),
        rule(id=""),
        rule(status="Paused"),
        rule(delete_markers="yes"),
        {"rules": [RULES["rules"][0], RULES["rules"][0]]},  # the same id twice
        {"rules": []},
        {"rules": "r1"},
    ]
    for body in refused:
        r = client.put("/buckets/photos/replication", json=body)
        assert r.status_code == 400, (body, r.text)
    assert client.get("/buckets/photos/replication").json() == expected  # nothing stored

    r = client.post("/admin/users", json={"name": "bob", "access_key": "BOBACCESSKEY00001",
                                           "secret_key": "bob-secret-key-0123456789"})
    token = client.post("/auth/token", json={"access_key": "BOBACCESSKEY00001",
                                             "secret_key": "bob-secret-key-0123456789"})
    bob = {"authorization": f"Bearer {token.json()['token']}"}
    assert client.get("/buckets/photos/replication", headers=bob).status_code == 403
    assert client.delete("/buckets/photos/replication", headers=bob).status_code == 403

    assert client.delete("/buckets/photos/replication").status_code == 204
    assert client.get("/buckets/photos/replication").status_code == 404
    assert client.put("/buckets/photos/versioning",
                      json={"status": "Suspended"}).status_code == 200
    audit = client.get("/audit", params={"from": 0}).text
    assert audit.count("strata:BucketReplicationConfigured") == 2


@pytest.mark.slow  # 12 s of CLI start-ups; boto3 drives the same S3 calls in make test
def test_the_aws_cli_puts_gets_and_deletes_a_replication_configuration(
    server: Server, aws_env: dict[str, str], tmp_path: Path,  # noqa: F811
) -> None:
    aws = [_tool("aws"), "--endpoint-url", server.s3, "s3api"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*aws, *args], env=aws_env, capture_output=True, text=True,
                              timeout=120)

    headers = server.token()
    assert httpx.put(f"{server.api}/admin/sites/eu", json=EU, headers=headers).status_code == 201
    assert run("create-bucket", "--bucket", "photos").returncode == 0
    config = {"Role": "arn:aws:iam::000000000000:role/ignored", "Rules": [{
        "ID": "all", "Priority": 1, "Status": "Enabled", "Filter": {"Prefix": ""},
        "DeleteMarkerReplication": {"Status": "Enabled"},
        "Destination": {"Bucket": "arn:aws:s3:eu::photos-eu"}}]}
    path = tmp_path / "replication.json"
    path.write_text(json.dumps(config))
    refused = run("put-bucket-replication", "--bucket", "photos", "--replication-configuration",
                  f"file://{path}")
    assert refused.returncode != 0 and "InvalidRequest" in refused.stderr
    assert run("put-bucket-versioning", "--bucket", "photos", "--versioning-configuration",
               "Status=Enabled").returncode == 0
    done = run("put-bucket-replication", "--bucket", "photos", "--replication-configuration",
               f"file://{path}")
    assert done.returncode == 0, done.stderr
    got = json.loads(run("get-bucket-replication", "--bucket", "photos").stdout)
    rule = got["ReplicationConfiguration"]["Rules"][0]
    assert rule["ID"] == "all" and rule["Status"] == "Enabled"
    assert rule["Destination"]["Bucket"] == "arn:aws:s3:eu::photos-eu"
    assert rule["DeleteMarkerReplication"] == {"Status": "Enabled"}
    assert httpx.get(f"{server.api}/buckets/photos/replication", headers=headers).json()[
        "rules"][0]["destination"] == {"site": "eu", "bucket": "photos-eu"}
    bad = config | {"Rules": [{**config["Rules"][0],
                               "Destination": {"Bucket": "arn:aws:s3:::photos-eu"}}]}
    path.write_text(json.dumps(bad))
    refused = run("put-bucket-replication", "--bucket", "photos", "--replication-configuration",
                  f"file://{path}")
    assert refused.returncode != 0 and "arn:aws:s3:<site>::<bucket>" in refused.stderr
    assert run("delete-bucket-replication", "--bucket", "photos").returncode == 0
    gone = run("get-bucket-replication", "--bucket", "photos")
    assert gone.returncode != 0 and "ReplicationConfigurationNotFoundError" in gone.stderr


def test_a_bucket_deleted_and_created_again_has_no_rules(client: TestClient) -> None:
    """Rules belong to the bucket's incarnation, as every other setting does."""
    client.put("/admin/sites/eu", json=EU)
    client.put("/buckets/again")
    client.put("/buckets/again/versioning", json={"status": "Enabled"})
    assert client.put("/buckets/again/replication", json=RULES).status_code == 200
    assert client.delete("/buckets/again").status_code == 204
    assert client.put("/buckets/again").status_code == 201
    assert client.get("/buckets/again/replication").status_code == 404
    assert client.get("/buckets/again/replication/status").status_code == 404
