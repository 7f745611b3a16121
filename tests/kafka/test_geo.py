"""Issue 22 in the Kafka cluster shape: one worker at a time sends the cluster's changes
to another site (the one holding the PostgreSQL lock); the senders' position and status
are shared, so API instances answer the rule's status and x-amz-replication-status, and
when the sending worker is killed the other takes over where it was."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server, wait_until
from tests.geo.sites import (
    register,
    replicate,
    settled_rule,
    site_server,
    versioned_bucket,
    versions,
    wait_until_equal,
)
from tests.kafka.conftest import Role
from tests.kafka.test_workers import start_worker
from tests.s3.conftest import make_client


@pytest.fixture
def cluster_env(cluster_env: dict[str, str]) -> dict[str, str]:
    return {**cluster_env, "STRATA_SITE_NAME": "cluster", "STRATA_GEO_POLL_SECONDS": "0.2",
            "STRATA_GEO_RETRY_MAX_SECONDS": "1", "STRATA_GC_GRACE_SECONDS": "60"}


@pytest.fixture
def site_b(tmp_path: Path) -> Iterator[Server]:
    b = site_server(tmp_path, "site-b")
    b.start()
    try:
        yield b
    finally:
        b.stop()


def _sending(port: int) -> bool:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return 'strata_geo_lag_events{site="site-b"}' in text


@pytest.mark.slow  # a Kafka cluster and two workers: 40 s; the parts are in make test
def test_one_worker_sends_and_another_takes_over_when_it_is_killed(
        two_apis: list[Server], relay: Role, cluster_env: dict[str, str], site_b: Server,
        tmp_path: Path) -> None:
    api = two_apis[0]
    register(api, "site-b", site_b)
    versioned_bucket(api, "src")
    versioned_bucket(site_b, "dst")
    replicate(api, "src", "site-b", "dst")
    source, replica = make_client(api), make_client(site_b)
    for i in range(20):
        source.put_object(Bucket="src", Key=f"before/{i}", Body=b"x%d" % i)
    source.delete_object(Bucket="src", Key="before/0")

    workers = [start_worker(name, cluster_env, tmp_path) for name in ("worker-1", "worker-2")]
    try:
        wait_until_equal(lambda: versions(replica, "dst"), lambda: versions(source, "src"),
                         "site B, from the cluster")
        sending = [(w, port) for w, port in workers if _sending(port)]
        assert len(sending) == 1, "exactly one worker sends"
        # every API instance reads the shared status
        for instance in two_apis:
            rule = settled_rule(instance, "src")
            assert (rule["applied"], rule["failed"]) == (21, 0)
        head = make_client(two_apis[1]).head_object(Bucket="src", Key="before/5")
        assert head["ReplicationStatus"] == "COMPLETED"

        leader, _ = sending[0]
        leader.kill()
        for i in range(10):
            source.put_object(Bucket="src", Key=f"after/{i}", Body=b"y%d" % i)
        wait_until_equal(lambda: versions(replica, "dst"), lambda: versions(source, "src"),
                         "site B, after the sending worker was killed")
        [(_, other_port)] = [(w, p) for w, p in workers if w is not leader]
        wait_until(lambda: _sending(other_port), 30, "the other worker sends")
        rule = settled_rule(two_apis[1], "src")
        assert rule["failed"] == 0
        assert rule["applied"] + rule["unchanged"] >= 31
    finally:
        for worker, _ in workers:
            worker.stop()

