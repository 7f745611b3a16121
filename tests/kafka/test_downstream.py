"""Downstream consumers of `strata.events`: the envelope alone rebuilds the live
listing; strata's own views rebuilt from the topic equal the live ones; and
`strata events tail --kafka` prints what comes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema

from domain.application import ObjectStore
from infra.run.system import all_projections
from infra.settings import Settings
from infra.views.kafka_feed import KafkaViewFeed
from infra.views.rocksdb import RocksDBViewStore
from projections.base import TRACKING_PREFIX
from projections.runner import ProjectionRunner
from tests.conftest import Server
from tests.kafka.conftest import PARTITIONS, TOPIC, Broker, read_topic, wait_until_relayed
from tests.s3.conftest import make_client

SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "events.schema.json").read_text())


def workload(a: Server, b: Server) -> list[str]:
    """Overwrites, versions, delete markers and deletes, through both instances."""
    s3a, s3b = make_client(a), make_client(b)
    buckets = ["plain", "versioned", "emptied"]
    for bucket in buckets:
        s3a.create_bucket(Bucket=bucket)
    s3a.put_bucket_versioning(Bucket="versioned", VersioningConfiguration={"Status": "Enabled"})
    for n in range(6):
        writer = s3a if n % 2 else s3b
        writer.put_object(Bucket="plain", Key=f"k{n % 4}", Body=f"plain {n}".encode())
        writer.put_object(Bucket="versioned", Key=f"k{n % 3}", Body=f"v {n}".encode())
    s3b.delete_object(Bucket="plain", Key="k1")
    s3b.delete_object(Bucket="versioned", Key="k2")  # a delete marker
    versions = s3a.list_object_versions(Bucket="versioned", Prefix="k0")["Versions"]
    s3a.delete_object(Bucket="versioned", Key="k0", VersionId=versions[0]["VersionId"])
    s3a.put_object(Bucket="emptied", Key="gone", Body=b"soon")
    s3b.delete_object(Bucket="emptied", Key="gone")
    s3b.delete_bucket(Bucket="emptied")
    return ["plain", "versioned"]


def listing_from_envelopes(records: list[Any]) -> dict[str, dict[str, tuple[str, int]]]:
    """bucket -> key -> (etag, size) of current versions, from the envelopes alone."""
    seen: set[str] = set()
    versions: dict[tuple[str, str], list[dict[str, Any]]] = {}
    buckets: set[str] = set()
    for record in records:
        headers = dict(record.headers or ())
        if headers.get("strata-kind") == b"watermark":
            continue
        envelope = json.loads(record.value)
        jsonschema.validate(envelope, SCHEMA)
        if envelope["event_id"] in seen:
            continue
        seen.add(envelope["event_id"])
        kind, data = envelope["type"], envelope["data"]
        where = (envelope["bucket"], envelope["key"])
        if kind in ("Bucket.Created", "Bucket.Recreated"):
            buckets.add(envelope["bucket"])
        elif kind == "Bucket.Deleted":
            buckets.discard(envelope["bucket"])
        elif kind in ("ObjectKey.VersionPut", "ObjectKey.DeleteMarkerPlaced"):
            version = data["version"] if kind == "ObjectKey.VersionPut" else data["marker"]
            stack = [v for v in versions.get(where, [])
                     if v["version_id"] != version["version_id"]]
            versions[where] = [*stack, version]
        elif kind == "ObjectKey.VersionDeleted":
            versions[where] = [v for v in versions.get(where, [])
                               if v["version_id"] != envelope["version_id"]]
    listing: dict[str, dict[str, tuple[str, int]]] = {b: {} for b in buckets}
    for (bucket, key), stack in versions.items():
        if bucket in listing and stack and not stack[-1]["is_delete_marker"]:
            listing[bucket][key] = (stack[-1]["etag"], stack[-1]["size"])
    return listing


def test_a_consumer_of_the_envelopes_rebuilds_the_live_listing(
    two_apis: list[Server], broker: Broker, postgres_url: str,
) -> None:
    a, b = two_apis
    live_buckets = workload(a, b)
    wait_until_relayed(postgres_url)
    rebuilt = listing_from_envelopes(read_topic(broker.servers))
    s3 = make_client(b)
    assert sorted(rebuilt) == sorted(x["Name"] for x in s3.list_buckets()["Buckets"])
    assert sorted(rebuilt) == sorted(live_buckets)
    for bucket in live_buckets:
        live = {o["Key"]: (o["ETag"].strip('"'), o["Size"])
                for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
        assert rebuilt[bucket] == live


def test_views_rebuilt_from_the_topic_equal_the_live_views(
    two_apis: list[Server], broker: Broker, postgres_url: str, tmp_path: Path,
) -> None:
    a, b = two_apis
    workload(a, b)
    head = wait_until_relayed(postgres_url)
    make_client(a).list_objects_v2(Bucket="plain")  # a's views have reached `head`
    a.stop()
    live = RocksDBViewStore(a.data_dir / "views")
    try:
        live_rows = [kv for kv in live.scan(b"", b"\xff" * 8)
                     if not kv[0].startswith(TRACKING_PREFIX)]
    finally:
        live.close()
    store = ObjectStore(Settings(event_store=postgres_url).event_store_env())
    views = RocksDBViewStore(tmp_path / "rebuilt")
    runner = ProjectionRunner(store, views, all_projections())
    feed = KafkaViewFeed(runner, views, broker.servers, TOPIC, "rebuild-check", PARTITIONS)
    feed.start()
    try:
        runner.wait_for(head, timeout=30)
        rebuilt_rows = [kv for kv in views.scan(b"", b"\xff" * 8)
                        if not kv[0].startswith(TRACKING_PREFIX)]
    finally:
        feed.stop()
        views.close()
        store.close()
    assert len(rebuilt_rows) > 20
    assert rebuilt_rows == live_rows


def test_events_tail_kafka_prints_the_envelopes(
    two_apis: list[Server], broker: Broker, postgres_url: str,
) -> None:
    a, _ = two_apis
    s3 = make_client(a)
    s3.create_bucket(Bucket="tailed")
    s3.put_object(Bucket="tailed", Key="one", Body=b"1")
    s3.create_bucket(Bucket="other")
    wait_until_relayed(postgres_url)
    env = {**a.env, "STRATA_KAFKA": broker.servers}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "infra.run.cli", "events", "tail", "--kafka", "--from", "0",
         "--no-follow", "--bucket", "tailed", "--type", "s3:ObjectCreated:*"],
        env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    printed = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(e["bucket"], e["key"], e["name"]) for e in printed] == [
        ("tailed", "one", "s3:ObjectCreated:Put")]
    assert time.monotonic() - started < 30
