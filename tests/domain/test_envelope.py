"""The published event envelope: every kind of event fits the documented schema, names
its bucket, key and version, and never carries a secret."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import jsonschema
import orjson

from domain.buckets import Bucket
from domain.collection import GarbageSweep
from domain.envelope import EventFilter, envelope
from domain.objects import ObjectKey
from domain.users import AccessKey, User
from tests.conftest import META, marker, now, version

SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "events.schema.json").read_text())


def _every_kind_of_event() -> list[object]:
    acl = {"owner": "alice", "grants": []}
    bucket = Bucket.create("photos", "alice", acl, "us-east-1", META, now())
    bucket.set_versioning("Enabled", META, now())
    bucket.set_acl(acl, META, now())
    bucket.set_retention(60, META, now())
    obj = ObjectKey.create("photos", "cat.jpg", now())
    obj.put_version(version("v1"), "Enabled", META, now())
    obj.set_acl(None, acl, META, now())
    obj.delete(None, "Enabled", marker("m1"), META, now())
    obj.delete("v1", "Enabled", marker("unused"), META, now())
    bucket.delete(META, now())
    user = User.create("alice", "Alice", False, META, now())
    user.add_access_key("AKALICE000000000001", META, now())
    key = AccessKey.create("AKALICE000000000001", "alice", "CIPHERTEXT-SECRET", META, now())
    key.rotate_secret("CIPHERTEXT-ROTATED", META, now())
    sweep = GarbageSweep("run", ["ab" * 32], 3, META, now())
    events: list[object] = []
    for aggregate in (bucket, obj, user, key, sweep):
        events += aggregate.collect_events()
    return events


def test_every_event_fits_the_schema_and_hides_secrets() -> None:
    events = _every_kind_of_event()
    for position, event in enumerate(events, start=1):
        record = orjson.loads(orjson.dumps(envelope(event, position)))
        jsonschema.validate(record, SCHEMA)
        assert record["position"] == position
        assert record["event_id"] == f"{event.originator_id}:{event.originator_version}"
        assert "CIPHERTEXT" not in json.dumps(record)
    names = [envelope(e, 1)["name"] for e in events]
    assert "s3:ObjectCreated:Put" in names and "s3:ObjectAcl:Put" in names
    assert "s3:ObjectRemoved:DeleteMarkerCreated" in names and "s3:ObjectRemoved:Delete" in names


def test_object_events_name_bucket_key_version_and_actor() -> None:
    obj = ObjectKey.create("photos", "cat.jpg", now())
    obj.put_version(version("v1"), "Enabled", META, now())
    put = envelope(obj.collect_events()[-1], 7)
    assert (put["bucket"], put["key"], put["version_id"]) == ("photos", "cat.jpg", "v1")
    assert put["type"] == "ObjectKey.VersionPut"
    assert (put["actor"], put["request_id"], put["source"]) == ("test", "t", "127.0.0.1")
    assert put["data"]["version"]["size"] == 3 and "bucket" not in put["data"]
    bucket = Bucket.create("photos", "alice", {"owner": "alice", "grants": []}, "us-east-1",
                           META, now())
    assert envelope(bucket.collect_events()[0], 1)["bucket"] == "photos"


def test_completed_multipart_uploads_carry_their_s3_name() -> None:
    obj = ObjectKey.create("photos", "big", now())
    obj.put_version({**version("v1"), "parts": [{"size": 3, "etag": "e"}]}, "Enabled",
                    META, now())
    assert envelope(obj.collect_events()[-1], 1)["name"] == (
        "s3:ObjectCreated:CompleteMultipartUpload")


def test_filters_match_bucket_prefix_type_actor_and_time() -> None:
    obj = ObjectKey.create("photos", "2026/cat.jpg", now())
    stamp = now()
    obj.put_version(version("v1"), "Enabled", META, stamp)
    record = envelope(obj.collect_events()[-1], 1)
    assert EventFilter(since=stamp, until=stamp + timedelta(seconds=1)).matches(record)
    assert not EventFilter(since=stamp + timedelta(microseconds=1)).matches(record)
    assert not EventFilter(until=stamp).matches(record)
    assert EventFilter(bucket="photos", prefix="2026/").matches(record)
    assert not EventFilter(bucket="other").matches(record)
    assert not EventFilter(prefix="2025/").matches(record)
    assert EventFilter(types=("s3:ObjectCreated:*",)).matches(record)
    assert EventFilter(types=("ObjectKey.VersionPut",)).matches(record)
    assert not EventFilter(types=("s3:ObjectRemoved:*",)).matches(record)
    assert EventFilter(actor="test").matches(record)
    assert not EventFilter(actor="bob").matches(record)
