"""Issue 22, item 7: two sites replicating one bucket to each other while both write the
same keys. No change goes back to the site it came from, and both sites end with the
same versions in the same order: the later last-modified on top, ties broken by the
greater version id (domain.objects.version_rank)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Server
from tests.geo.sites import (
    admin,
    register,
    replicate,
    running,
    settled_rule,
    site_server,
    versioned_bucket,
    versions,
    wait_until_equal,
)
from tests.s3.conftest import make_client

KEYS = [f"shared/{i}" for i in range(12)]
ROUNDS = 6


@pytest.fixture
def two_way(tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    a, b = site_server(tmp_path, "site-a"), site_server(tmp_path, "site-b")
    with running(a, b):
        register(a, "site-b", b)
        register(b, "site-a", a)
        for server in (a, b):
            versioned_bucket(server, "both")
        replicate(a, "both", "site-b", "both")
        replicate(b, "both", "site-a", "both")
        yield a, b


def _write(s3: Any, site: str, start: threading.Barrier, written: list[int]) -> None:
    start.wait()
    for round_ in range(ROUNDS):
        for key in KEYS:
            if (round_ + len(key)) % 5 == 0:
                s3.delete_object(Bucket="both", Key=key)  # a delete marker
            else:
                s3.put_object(Bucket="both", Key=key, Body=f"{site} {round_}".encode()
                              + os.urandom(16))
            written[0] += 1


def _events(server: Server, key: str) -> list[dict[str, Any]]:
    with admin(server) as api:
        r = api.get(f"/buckets/both/history/{key}")
        assert r.status_code == 200, r.text
        return list(r.json()["history"])


def _ranked(s3: Any) -> list[tuple[Any, ...]]:
    """Each key's versions newest first, as the site lists them."""
    rows: list[tuple[Any, ...]] = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket="both"):
        rows += [(v["Key"], v["VersionId"], v["IsLatest"], v["LastModified"])
                 for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
    return sorted(rows, key=lambda r: (r[0], -r[3].timestamp(), r[1]))


def test_two_sites_writing_the_same_keys_converge_without_a_loop(
        two_way: tuple[Server, Server]) -> None:
    a, b = two_way
    s3_a, s3_b = make_client(a), make_client(b)
    start = threading.Barrier(2)
    written = {"a": [0], "b": [0]}
    writers = [threading.Thread(target=_write, args=(s3_a, "a", start, written["a"])),
               threading.Thread(target=_write, args=(s3_b, "b", start, written["b"]))]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()

    on_a = wait_until_equal(lambda: versions(s3_b, "both"), lambda: versions(s3_a, "both"),
                            "the two sites' versions")
    assert len(on_a) == written["a"][0] + written["b"][0]  # both sites hold every version
    assert _ranked(s3_a) == _ranked(s3_b)
    for key in KEYS:  # the same current version, by the documented rule
        written_at = {}  # version id -> last-modified to the microsecond
        for e in _events(a, key):
            version = e["data"].get("version") or e["data"].get("marker")
            if version:
                written_at[version["version_id"]] = datetime.fromisoformat(
                    version["created_at"])
        listed = [v for v in on_a if v[0] == key]
        newest = max(listed, key=lambda v: (written_at[v[1]], v[1]))
        latest = [v for v in listed if v[2]]
        assert latest == [newest], key
        if newest[3] != "marker":
            assert s3_a.get_object(Bucket="both", Key=key)["Body"].read() == \
                s3_b.get_object(Bucket="both", Key=key)["Body"].read()

    kept = [e["type"] for server in (a, b) for key in KEYS for e in _events(server, key)
            if e["type"] in ("ObjectKey.VersionKept", "ObjectKey.MarkerKept")]
    assert kept, "no write arrived at a site that held a newer one: nothing was tested"

    # no loop: each site applied exactly what the other wrote, and sent nothing back
    to_b, to_a = settled_rule(a, "both"), settled_rule(b, "both")
    assert (to_b["applied"], to_b["unchanged"], to_b["failed"]) == (written["a"][0], 0, 0)
    assert (to_a["applied"], to_a["unchanged"], to_a["failed"]) == (written["b"][0], 0, 0)


def test_the_rule_ranks_by_time_then_version_id() -> None:
    from domain.objects import version_rank

    def version(version_id: str, at: str) -> Any:
        return {"version_id": version_id, "created_at": at}

    same = "2026-12-07T10:00:00+00:00"
    assert version_rank(version("a", "2026-12-07T10:00:01+00:00")) > \
        version_rank(version("z", same))
    assert version_rank(version("z", same)) > version_rank(version("a", same))
    # the same instant written with another offset ranks as the same instant
    assert version_rank(version("a", "2026-12-07T11:00:00+01:00"))[0] == \
        datetime.fromisoformat(same)
