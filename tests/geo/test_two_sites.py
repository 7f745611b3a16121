"""Issue 22: two real sites on loopback. A scripted history on site A reaches site B's
bucket with the same versions, bytes, metadata, ACLs and history, in order; as-of
listings on B answer as A's do; a change is applied once however often it is sent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT_AK, Server
from tests.geo.sites import (
    PART,
    admin,
    history,
    metric,
    replicate,
    replication_status,
    scripted_history,
    settled_rule,
    two_sites,
    version_details,
    versioned_bucket,
    versions,
    wait_until_equal,
)
from tests.monitoring import exported_names, monitored_names, only_with_geo
from tests.s3.conftest import make_client


@pytest.fixture
def sites(tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    with two_sites(tmp_path) as pair:
        yield pair


def _acl(s3: Any, bucket: str, key: str) -> list[tuple[str, str]]:
    grants = s3.get_object_acl(Bucket=bucket, Key=key)["Grants"]
    return sorted((g["Grantee"].get("URI") or g["Grantee"].get("ID", ""), g["Permission"])
                  for g in grants)


def _as_of(server: Server, bucket: str, moment: datetime) -> list[tuple[Any, ...]]:
    with admin(server) as api:
        r = api.get(f"/buckets/{bucket}/list", params={"as_of": moment.isoformat()})
        assert r.status_code == 200, r.text
        return [(o["key"], o["version_id"], o["etag"], o["size"]) for o in r.json()["objects"]]


def test_a_scripted_history_reaches_the_other_site_whole_and_in_order(
        sites: tuple[Server, Server]) -> None:
    a, b = sites
    source, replica = make_client(a), make_client(b)
    instants = scripted_history(source)

    wait_until_equal(lambda: versions(replica, "dst"), lambda: versions(source, "src"),
                     "ListObjectVersions on site B")
    assert version_details(replica, "dst") == version_details(source, "src")
    assert _acl(replica, "dst", "k1") == _acl(source, "src", "k1")
    for moment in [*instants, datetime.now(UTC)]:
        assert _as_of(b, "dst", moment) == _as_of(a, "src", moment), moment
    for key in ("k1", "k2", "k3", "k4", "k5"):
        replicated = history(b, "dst", key)
        assert replicated == history(a, "src", key)  # original times and actors
        assert all(actor == ROOT_AK for *_, actor in replicated)

    status = settled_rule(a, "src")
    assert status["site_answers"] is True
    assert status["applied"] >= 11 and status["failed"] == 0
    # k5 is a copy of k4: its chunks were already there, and were not sent again
    assert status["chunks_skipped"] >= 1
    assert status["bytes_sent"] >= PART


def test_a_change_sent_again_is_not_applied_again(sites: tuple[Server, Server]) -> None:
    a, b = sites
    source = make_client(a)
    source.put_object(Bucket="src", Key="once", Body=b"x")
    source.put_object_acl(Bucket="src", Key="once", ACL="public-read")
    replica = make_client(b)
    wait_until_equal(lambda: versions(replica, "dst"), lambda: versions(source, "src"),
                     "the replica")
    wait_until_equal(lambda: _acl(replica, "dst", "once"), lambda: _acl(source, "src", "once"),
                     "the replica's ACL")
    before = history(b, "dst", "once")

    # what site A's sender sent, sent again by hand (a redelivery after a crash)
    with admin(a) as api_a:
        events = api_a.get("/buckets/src/history/once").json()["history"]
    changes = []
    for event in events:
        data = event["data"]
        if event["type"] == "ObjectKey.VersionPut":
            change = {"kind": "put", "version": data["version"]}
        elif event["type"] == "ObjectKey.AclChanged":
            change = {"kind": "acl", "version_id": data["version_id"], "acl": data["acl"]}
        else:
            continue
        changes.append({"bucket": "dst", "key": "once", "time": event["time"],
                        "meta": {"actor": event["actor"], "request_id": "", "source": "",
                                 "user_agent": ""},
                        "origin_site": "site-a", "origin_position": event["position"],
                        **change})
    with admin(b) as api_b:
        r = api_b.post("/replication/apply", json={"changes": changes})
    assert r.status_code == 200, r.text
    assert [x["status"] for x in r.json()["results"]] == ["unchanged", "unchanged"]
    assert history(b, "dst", "once") == before


def test_replication_status_on_both_sides_and_a_refused_change(
        sites: tuple[Server, Server]) -> None:
    """x-amz-replication-status: COMPLETED on the source once sent, REPLICA on the
    destination; a change the site refuses (its bucket does not exist) is FAILED, a
    dead letter with the site's reason, and counted; the rule's other changes go on."""
    a, b = sites
    source, replica = make_client(a), make_client(b)
    source.put_object(Bucket="src", Key="fine", Body=b"x")
    wait_until_equal(lambda: versions(replica, "dst"), lambda: versions(source, "src"),
                     "the replica")
    head = source.head_object(Bucket="src", Key="fine")
    assert head["ReplicationStatus"] == "COMPLETED"
    assert replica.head_object(Bucket="dst", Key="fine")["ReplicationStatus"] == "REPLICA"
    assert replica.get_object(Bucket="dst", Key="fine")["ReplicationStatus"] == "REPLICA"

    versioned_bucket(a, "orphan")
    replicate(a, "orphan", "site-b", "no-such-bucket")
    source.put_object(Bucket="orphan", Key="lost", Body=b"y")
    wait_until_equal(lambda: replication_status(a, "orphan")["rules"][0]["failed"],
                     lambda: 1, "the refused change's count")
    rule = settled_rule(a, "orphan")
    assert rule["applied"] == 0  # recorded, not retried
    [failure] = rule["recent_failures"]
    assert failure["key"] == "lost" and failure["error"].startswith("NoSuchBucket")
    assert source.head_object(Bucket="orphan", Key="lost")["ReplicationStatus"] == "FAILED"
    assert metric(a, "strata_geo_changes_failed_total", "site-b") == 1
    # every geo series the dashboard and alerts read, site A exports
    exported = exported_names(httpx.get(f"{a.api}/metrics", timeout=10).text)
    assert only_with_geo(monitored_names()) <= exported
    source.put_object(Bucket="src", Key="after", Body=b"z")  # the site still gets the rest
    wait_until_equal(lambda: versions(replica, "dst"), lambda: versions(source, "src"),
                     "the replica after a refusal")


def test_tags_travel_with_their_versions(sites: tuple[Server, Server]) -> None:
    """Issue 23: a version's tags reach the other site with it, and so do later changes."""
    a, b = sites
    source, replica = make_client(a), make_client(b)
    first = source.put_object(Bucket="src", Key="tagged", Body=b"x", Tagging="team=blue")
    source.put_object(Bucket="src", Key="tagged", Body=b"y")
    source.put_object_tagging(Bucket="src", Key="tagged", VersionId=first["VersionId"],
                              Tagging={"TagSet": [{"Key": "team", "Value": "red"}]})

    def tags(s3: Any, bucket: str) -> list[tuple[str, Any]]:
        listed = s3.list_object_versions(Bucket=bucket, Prefix="tagged").get("Versions", [])
        return sorted((v["VersionId"], s3.get_object_tagging(
            Bucket=bucket, Key="tagged", VersionId=v["VersionId"])["TagSet"]) for v in listed)

    wait_until_equal(lambda: tags(replica, "dst"), lambda: tags(source, "src"),
                     "the replica's tags")
    assert dict(tags(replica, "dst"))[first["VersionId"]] == [{"Key": "team", "Value": "red"}]


def test_a_version_read_straight_after_its_write_says_it_is_pending_or_sent(
        sites: tuple[Server, Server]) -> None:
    """The views trail the store by a moment: a HEAD or GET that finds the version
    before they place it still answers a status under a replication rule."""
    a, _ = sites
    source = make_client(a)
    for i in range(60):
        source.put_object(Bucket="src", Key=f"fresh/{i % 5}", Body=b"x" * i)
        status = source.head_object(Bucket="src", Key=f"fresh/{i % 5}").get(
            "ReplicationStatus")
        assert status in ("PENDING", "COMPLETED"), (i, status)
        got = source.get_object(Bucket="src", Key=f"fresh/{i % 5}")
        assert got.get("ReplicationStatus") in ("PENDING", "COMPLETED"), i
