"""The relay: every stored event reaches `strata.events` once after de-duplication, in
per-bucket order, through relay crashes and a broker that lost its log."""

from __future__ import annotations

import threading
import time
from collections import defaultdict

import httpx

from tests.conftest import Server
from tests.kafka.conftest import (
    Broker,
    Role,
    events_on_topic,
    metric,
    store_notifications,
    wait_until_relayed,
)
from tests.s3.conftest import make_client


def assert_topic_matches_store(postgres_url: str, servers: str, epochs: int = 1) -> None:
    """Each stored event is on the topic once after de-duplication by (aggregate id,
    version); a bucket's events share one partition and come in log order. Where the
    relay published the log again (a new epoch), the newest epoch alone holds it all."""
    wait_until_relayed(postgres_url)
    stored = store_notifications(postgres_url)
    on_topic = events_on_topic(servers)
    assert max(event.epoch for event in on_topic) == epochs
    first: dict[tuple[str, int], int] = {}
    per_partition: dict[int, list[int]] = defaultdict(list)
    partitions_of_bucket: dict[bytes, set[int]] = defaultdict(set)
    for event in on_topic:
        if event.epoch < epochs:
            continue
        assert event.envelope["position"] == event.position
        assert event.key == (event.envelope["bucket"] or "").encode()
        partitions_of_bucket[event.key].add(event.partition)
        if event.ident in first:
            assert first[event.ident] == event.position  # a copy of the same event
            continue
        first[event.ident] = event.position
        per_partition[event.partition].append(event.position)
    assert sorted(first.values()) == [n.id for n in stored]
    assert {(str(n.originator_id), n.originator_version) for n in stored} == set(first)
    for positions in per_partition.values():
        assert positions == sorted(positions)
    assert all(len(parts) == 1 for parts in partitions_of_bucket.values())


def test_changes_through_both_doors_of_both_instances_are_on_the_topic_once(
    two_apis: list[Server], postgres_url: str, broker: Broker,
) -> None:
    a, b = two_apis
    for i, server in enumerate((a, b)):
        s3 = make_client(server)
        s3.create_bucket(Bucket=f"door-{i}")
        s3.put_bucket_versioning(Bucket=f"door-{i}",
                                 VersioningConfiguration={"Status": "Enabled"})
        for n in range(5):
            s3.put_object(Bucket=f"door-{i}", Key=f"k{n}", Body=b"x" * n)
        s3.delete_object(Bucket=f"door-{i}", Key="k1")
        headers = server.token()
        r = httpx.put(f"{server.api}/buckets/native-{i}", headers=headers)
        assert r.status_code in (200, 201), r.text
        r = httpx.post(f"{server.api}/buckets/native-{i}/upload", params={"key": "doc"},
                       content=b"native", headers=headers)
        assert r.status_code in (200, 201), r.text
        r = httpx.delete(f"{server.api}/buckets/native-{i}/objects/doc", headers=headers)
        assert r.status_code in (200, 204), r.text
    assert_topic_matches_store(postgres_url, broker.servers)


def test_a_relay_killed_mid_stream_loses_and_reorders_nothing(
    two_apis: list[Server], relay: Role, postgres_url: str, broker: Broker,
) -> None:
    a, _ = two_apis
    s3 = make_client(a)
    for bucket in ("kb1", "kb2", "kb3", "kb4"):
        s3.create_bucket(Bucket=bucket)
    stop = threading.Event()

    def write() -> None:
        n = 0
        while not stop.is_set():
            s3.put_object(Bucket=f"kb{n % 4 + 1}", Key=f"o{n}", Body=str(n).encode())
            n += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        for _ in range(3):
            time.sleep(0.7)
            relay.kill()
            time.sleep(0.3)
            relay.start()
    finally:
        stop.set()
        writer.join()
    assert_topic_matches_store(postgres_url, broker.servers)


def test_a_broker_that_lost_its_log_is_refilled_from_the_store(
    two_apis: list[Server], postgres_url: str, broker: Broker,
) -> None:
    a, b = two_apis
    s3a, s3b = make_client(a), make_client(b)
    s3a.create_bucket(Bucket="before")
    for n in range(10):
        s3a.put_object(Bucket="before", Key=f"k{n}", Body=b"old")
    wait_until_relayed(postgres_url)
    broker.stop()
    broker.start()  # a fresh broker on the same address: its log is empty
    s3a.put_object(Bucket="before", Key="after-restart", Body=b"new")
    listed = s3b.list_objects_v2(Bucket="before")["Contents"]
    assert [o["Key"] for o in listed] == ["after-restart"] + [f"k{n}" for n in range(10)]
    assert_topic_matches_store(postgres_url, broker.servers, epochs=2)


def test_relay_lag_is_a_metric(
    two_apis: list[Server], relay: Role, postgres_url: str,
) -> None:
    a, b = two_apis
    s3 = make_client(a)
    s3.create_bucket(Bucket="lagging")
    wait_until_relayed(postgres_url)
    assert metric(b.api, "strata_relay_lag_events") == 0
    relayed = metric(b.api, "strata_log_position")
    relay.stop()
    for n in range(3):
        s3.put_object(Bucket="lagging", Key=f"k{n}", Body=b"x")
    time.sleep(0.2)
    written = metric(b.api, "strata_log_position") - relayed
    assert written >= 3
    assert metric(b.api, "strata_relay_lag_events") == written
    assert metric(b.api, "strata_relay_lag_seconds") >= 0.2
    assert metric(b.api, "strata_views_lag_events") == written  # the other instance's views wait
    relay.start()
    wait_until_relayed(postgres_url)
    assert metric(b.api, "strata_relay_lag_events") == 0
    assert metric(b.api, "strata_relay_lag_seconds") == 0
