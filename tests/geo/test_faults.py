"""Issue 22: geo-replication through faults. Either site killed with SIGKILL in the
middle of a stream, or the destination down for a while: once it is back the
destination converges, nothing is lost and nothing is applied twice (each key's
history on B is A's, event for event), and the lag metric rose and fell."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Server, wait_until
from tests.geo.sites import (
    CONVERGE_SECONDS,
    histories,
    metric,
    replication_status,
    settled_rule,
    two_sites,
    versions,
    wait_until_equal,
)
from tests.s3.conftest import make_client


@pytest.fixture
def sites(tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    # at 8 MiB/s the stream of 38 MiB takes seconds: long enough to be killed in its middle
    with two_sites(tmp_path, STRATA_GEO_BYTES_PER_SECOND=str(8 * 1024 * 1024)) as pair:
        yield pair


def _put_many(s3: Any, count: int, size: int) -> None:
    def put(i: int) -> None:
        s3.put_object(Bucket="src", Key=f"k{i % (count // 2):04d}", Body=os.urandom(size))
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(put, range(count)))


def _same_everywhere(a: Server, b: Server) -> None:
    source, replica = make_client(a), make_client(b)

    def replicated() -> list[tuple[Any, ...]]:  # leaving out what clients wrote on B
        return [v for v in versions(replica, "dst") if not v[0].startswith("failover/")]
    wait_until_equal(replicated, lambda: versions(source, "src"),
                     "ListObjectVersions on site B")
    listed = versions(source, "src")
    keys = sorted({v[0] for v in listed})
    # the same events for every key: nothing lost, nothing recorded twice
    assert histories(b, "dst", keys) == histories(a, "src", keys)
    current = sorted(v[0] for v in listed if v[2] and v[3] != "marker")
    for key in current[:20]:
        assert replica.get_object(Bucket="dst", Key=key)["Body"].read() == \
            source.get_object(Bucket="src", Key=key)["Body"].read()


# the destination's kill runs in the slow suite (the sender's side is the harder one)
@pytest.mark.parametrize("victim", ["source", pytest.param("destination",
                                                           marks=pytest.mark.slow)])
def test_a_site_killed_mid_stream_loses_nothing_and_applies_nothing_twice(
        sites: tuple[Server, Server], victim: str) -> None:
    a, b = sites
    total = 600
    _put_many(make_client(a), total, 64 * 1024)  # 600 versions, about 38 MiB to send

    def under_way() -> bool:
        rule = replication_status(a, "src")["rules"][0]
        return bool(rule["applied"] > 0 and rule["lag_events"] > 0)

    wait_until(under_way, CONVERGE_SECONDS, "a stream under way")
    (a if victim == "source" else b).kill()
    if victim == "source":  # failover: clients read and write on B while A is down
        replica = make_client(b)
        arrived = versions(replica, "dst")
        assert 0 < len(arrived) < total, "the kill was not in the middle of the stream"
        key, version_id = arrived[0][:2]
        assert len(replica.get_object(Bucket="dst", Key=key, VersionId=version_id)[
            "Body"].read()) == 64 * 1024
        replica.put_object(Bucket="dst", Key="failover/while-a-is-down", Body=b"b")
    (a if victim == "source" else b).start()
    _same_everywhere(a, b)


def _destination_down_for(sites: tuple[Server, Server], seconds: float) -> None:
    a, b = sites
    source = make_client(a)
    source.put_object(Bucket="src", Key="before", Body=b"before")
    settled_rule(a, "src")
    b.kill()
    deadline = time.monotonic() + seconds
    written = 0
    while time.monotonic() < deadline:  # site A goes on taking writes
        source.put_object(Bucket="src", Key=f"while-down/{written % 50}",
                          Body=os.urandom(4096))
        source.delete_object(Bucket="src", Key=f"while-down/{(written + 7) % 50}")
        written += 1
        time.sleep(0.05)
    source.put_object(Bucket="src", Key="last-while-down", Body=b"z")
    assert source.head_object(Bucket="src", Key="last-while-down")[
        "ReplicationStatus"] == "PENDING"
    # read at the end of the outage, not by a sampler that may have fallen behind
    assert metric(a, "strata_geo_lag_events", "site-b") >= written, "the lag did not rise"
    assert metric(a, "strata_geo_site_up", "site-b") == 0, "site B was not reported down"
    b.start()
    _same_everywhere(a, b)
    wait_until(lambda: metric(a, "strata_geo_lag_events", "site-b") == 0, CONVERGE_SECONDS,
               "the lag back to zero")
    assert metric(a, "strata_geo_site_up", "site-b") == 1
    assert source.head_object(Bucket="src", Key="last-while-down")[
        "ReplicationStatus"] == "COMPLETED"
    status = replication_status(a, "src")["rules"][0]
    assert status["failed"] == 0 and status["site_answers"] is True


def test_the_destination_down_for_a_while_catches_up_and_the_lag_falls(
        sites: tuple[Server, Server]) -> None:
    _destination_down_for(sites, 5)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_destination_down_for_a_minute_catches_up_and_the_lag_falls(
        sites: tuple[Server, Server]) -> None:
    _destination_down_for(sites, 60)
