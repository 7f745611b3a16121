"""Issue 22, item 5: a rule added to a bucket that already holds objects replicates them
too, with progress in the rule's status, while new writes keep reaching the site in
order."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Server
from tests.geo.sites import (
    admin,
    replicate,
    replication_status,
    settled_rule,
    two_sites,
    versioned_bucket,
    versions,
    wait_until_equal,
)
from tests.s3.conftest import make_client


@pytest.fixture
def sites(tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    with two_sites(tmp_path, rule=False) as pair:
        yield pair


def _fill(s3: Any, count: int) -> None:
    """`count` objects; their bodies repeat, so the chunks that travel are few and the
    test measures the changes, not the bytes."""
    def put(i: int) -> None:
        s3.put_object(Bucket="src", Key=f"old/{i:05d}", Body=b"body %d" % (i % 7))
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, range(count)))


def _replicates_what_the_bucket_held(a: Server, b: Server, count: int) -> list[dict[str, Any]]:
    source, replica = make_client(a), make_client(b)
    _fill(source, count)
    source.put_object(Bucket="src", Key="old/00001", Body=b"overwritten before the rule")
    source.delete_object(Bucket="src", Key="old/00002")
    source.put_object(Bucket="src", Key="elsewhere/not-in-the-rule", Body=b"x")

    replicate(a, "src", "site-b", "dst", prefix="old/")
    # writes while the rule is still sending the old objects: they arrive after them
    source.put_object(Bucket="src", Key="old/00003", Body=b"overwritten after the rule")
    source.put_object(Bucket="src", Key="old/new", Body=b"new")
    source.delete_object(Bucket="src", Key="old/00004")

    seen: list[dict[str, Any]] = []

    def progress() -> Any:
        rule = replication_status(a, "src")["rules"][0]
        seen.append(rule["existing_objects"])
        return rule["existing_objects"]["state"] if rule["existing_objects"] else None

    wait_until_equal(progress, lambda: "done", "the rule's existing objects")
    expected = [v for v in versions(source, "src") if v[0].startswith("old/")]
    wait_until_equal(lambda: versions(replica, "dst"), lambda: expected,
                     "ListObjectVersions on site B")
    final = settled_rule(a, "src")
    # count puts, 1 overwrite and 1 marker before the rule went with the backfill, and
    # the 3 changes after it with the backfill or the stream; each was sent once
    assert count + 2 <= final["existing_objects"]["changes_sent"] <= count + 5
    assert (final["applied"], final["unchanged"], final["failed"]) == (count + 5, 0, 0)
    for key in ("old/00001", "old/00003", "old/new"):
        assert replica.get_object(Bucket="dst", Key=key)["Body"].read() == \
            source.get_object(Bucket="src", Key=key)["Body"].read()
    return seen


def test_a_rule_added_to_a_bucket_with_objects_replicates_them_in_order(
        sites: tuple[Server, Server]) -> None:
    _replicates_what_the_bucket_held(*sites, count=300)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_ten_thousand_existing_objects_replicate_with_progress(
        sites: tuple[Server, Server]) -> None:
    seen = _replicates_what_the_bucket_held(*sites, count=10_000)
    replicating = [p for p in seen if p and p["state"] == "replicating"]
    assert replicating, "the status never showed the backfill under way"
    scanned = [p["events_scanned"] for p in replicating]
    assert scanned == sorted(scanned) and scanned[-1] < replicating[-1]["events_to_scan"]


def test_a_bucket_created_again_sends_nothing_of_its_earlier_life(
        sites: tuple[Server, Server]) -> None:
    """The rule's backfill starts at the bucket's incarnation: objects (and their
    removals) from before the bucket was deleted and created again never travel."""
    a, b = sites
    source, replica = make_client(a), make_client(b)
    for key in ("old/1", "old/2"):
        version_id = source.put_object(Bucket="src", Key=key, Body=b"earlier life")[
            "VersionId"]
        source.delete_object(Bucket="src", Key=key, VersionId=version_id)
    source.delete_bucket(Bucket="src")
    versioned_bucket(a, "src")
    source.put_object(Bucket="src", Key="old/new", Body=b"this life")
    replicate(a, "src", "site-b", "dst", prefix="old/")
    wait_until_equal(lambda: versions(replica, "dst"), lambda: versions(source, "src"),
                     "ListObjectVersions on site B")
    assert [v[0] for v in versions(replica, "dst")] == ["old/new"]
    with admin(b) as api:  # not even the earlier life's put and removal
        assert api.get("/buckets/dst/history/old/1").status_code == 404
    assert settled_rule(a, "src")["applied"] == 1
