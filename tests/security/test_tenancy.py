"""No user reaches another's data through the history features (issue 19, items 1, 4-8)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from tests.conftest import Server
from tests.security.conftest import User, fresh_bucket, new_user


def _instant() -> str:
    moment = datetime.now(UTC).isoformat()
    time.sleep(0.01)  # the next event is stamped strictly later
    return moment


def _events(server: Server, user: User, bucket: str) -> list[dict[str, Any]]:
    got = httpx.get(f"{server.api}/events", headers=user.headers,
                    params={"bucket": bucket, "after": "0", "follow": "false"})
    assert got.status_code == 200, got.text
    return [orjson.loads(line[len("data: "):]) for line in got.text.splitlines()
            if line.startswith("data: ")]


def test_a_recreated_bucket_name_shows_nothing_of_the_earlier_owner(live: Server) -> None:
    alice, bob = new_user(live, "alice"), new_user(live, "bob")
    bucket = fresh_bucket()
    alice.s3.create_bucket(Bucket=bucket)
    alice.s3.put_object(Bucket=bucket, Key="secret.txt", Body=b"alice's bytes",
                        Metadata={"plan": "merger"})
    while_alice = _instant()
    alice.s3.delete_object(Bucket=bucket, Key="secret.txt")
    alice.s3.delete_bucket(Bucket=bucket)
    bob.s3.create_bucket(Bucket=bucket)
    api, h = f"{live.api}/buckets/{bucket}", bob.headers

    read = httpx.get(f"{api}/secret.txt", params={"as_of": while_alice}, headers=h)
    assert read.status_code == 404 and b"alice's bytes" not in read.content
    meta = httpx.get(f"{api}/meta/secret.txt", params={"as_of": while_alice}, headers=h)
    assert meta.status_code == 404 and "merger" not in meta.text
    listing = httpx.get(f"{api}/list", params={"as_of": while_alice}, headers=h)
    assert listing.status_code == 200 and listing.json()["objects"] == []
    assert httpx.get(f"{api}/history/secret.txt", headers=h).status_code == 404
    inventory = httpx.get(f"{api}/inventory", params={"as_of": while_alice}, headers=h)
    assert inventory.status_code == 200 and inventory.text == ""
    records = _events(live, bob, bucket)
    assert records and {r["user"] for r in records} == {bob.name}
    assert alice.access_key not in orjson.dumps(records).decode()
    restored = httpx.post(f"{api}/restore", params={"as_of": while_alice}, headers=h)
    assert restored.status_code == 200 and restored.json()["counts"]["restored"] == 0
    assert bob.s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    # The new owner's own past is there as before.
    bob.s3.put_object(Bucket=bucket, Key="secret.txt", Body=b"bob's bytes")
    while_bob = _instant()
    bob.s3.delete_object(Bucket=bucket, Key="secret.txt")
    mine = httpx.get(f"{api}/secret.txt", params={"as_of": while_bob}, headers=h)
    assert mine.status_code == 200 and mine.content == b"bob's bytes"
    # An administrator still sees everything through the audit trail.
    audit = httpx.get(f"{live.api}/audit", params={"bucket": bucket}, headers=live.token())
    assert alice.name in {r["user"] for r in audit.json()["events"]}


def test_a_past_read_needs_the_acl_in_force_now(live: Server) -> None:
    alice = new_user(live, "alice")
    bucket = fresh_bucket()
    alice.s3.create_bucket(Bucket=bucket)
    alice.s3.put_object(Bucket=bucket, Key="was-public", Body=b"x", ACL="public-read")
    while_public = _instant()
    url = f"{live.api}/buckets/{bucket}/was-public"
    assert httpx.get(url, params={"as_of": while_public}).status_code == 200
    alice.s3.put_object_acl(Bucket=bucket, Key="was-public", ACL="private")
    assert httpx.get(url, params={"as_of": while_public}).status_code == 403
    meta = f"{live.api}/buckets/{bucket}/meta/was-public"
    assert httpx.get(meta, params={"as_of": while_public}).status_code == 403
    # Overwritten by a private version: the old public one is not readable either.
    alice.s3.put_object(Bucket=bucket, Key="overwritten", Body=b"old", ACL="public-read")
    while_old = _instant()
    alice.s3.put_object(Bucket=bucket, Key="overwritten", Body=b"new")
    old = f"{live.api}/buckets/{bucket}/overwritten"
    assert httpx.get(old, params={"as_of": while_old}).status_code == 403
    assert httpx.get(old, params={"as_of": while_old}, headers=alice.headers).content == b"old"


def test_a_caller_who_may_only_list_sees_what_a_listing_shows(live: Server) -> None:
    alice, bob = new_user(live, "alice"), new_user(live, "bob")
    bucket = fresh_bucket()
    alice.s3.create_bucket(Bucket=bucket)
    alice.s3.put_bucket_acl(Bucket=bucket, GrantRead=f"id={bob.name}",
                            GrantFullControl=f"id={alice.name}")
    alice.s3.put_object(Bucket=bucket, Key="report", Body=b"private numbers",
                        Metadata={"client": "acme"})
    api = f"{live.api}/buckets/{bucket}"
    assert httpx.get(f"{api}/report", headers=bob.headers).status_code == 403
    secrets = ("acme", alice.access_key, "127.0.0.1", "chunks", "user_agent\":\"B")

    history = httpx.get(f"{api}/history/report", headers=bob.headers)
    assert history.status_code == 200
    put = history.json()["history"][-1]
    assert put["key"] == "report" and put["data"]["version"]["size"] == len(b"private numbers")
    assert not any(s in history.text for s in secrets), history.text
    records = [r for r in _events(live, bob, bucket) if r["key"] == "report"]
    assert records and records[-1]["data"]["version"]["etag"]
    assert not any(s in orjson.dumps(records).decode() for s in secrets)
    rows = [orjson.loads(line) for line in
            httpx.get(f"{api}/inventory", headers=bob.headers).text.splitlines()]
    assert [r["key"] for r in rows] == ["report"] and "checksum" not in rows[0]
    # The owner sees everything.
    full = httpx.get(f"{api}/history/report", headers=alice.headers).text
    assert "acme" in full and alice.access_key in full


def test_existence_is_hidden_from_callers_who_may_not_list(live: Server) -> None:
    alice, bob = new_user(live, "alice"), new_user(live, "bob")
    bucket = fresh_bucket()
    alice.s3.create_bucket(Bucket=bucket)
    alice.s3.put_object(Bucket=bucket, Key="there", Body=b"x")
    api = f"{live.api}/buckets/{bucket}"
    for who in ({}, bob.headers):
        for path in ("there", "missing", "meta/there", "meta/missing"):
            got = httpx.get(f"{api}/{path}", headers=who)
            assert got.status_code == 403, (path, got.status_code)
    assert httpx.get(f"{api}/missing", headers=alice.headers).status_code == 404


def test_an_inventory_schedule_needs_write_on_its_destination(live: Server) -> None:
    alice, bob = new_user(live, "alice"), new_user(live, "bob")
    source, destination = fresh_bucket(), fresh_bucket()
    bob.s3.create_bucket(Bucket=source)
    alice.s3.create_bucket(Bucket=destination)
    refused = httpx.put(f"{live.api}/buckets/{source}/inventory-schedule",
                        json={"destination": destination}, headers=bob.headers)
    assert refused.status_code == 403
    got = httpx.get(f"{live.api}/buckets/{source}/inventory-schedule", headers=bob.headers)
    assert got.json() == {"inventory": None}


def test_an_open_event_stream_ends_when_its_caller_loses_access(live: Server) -> None:
    alice, bob = new_user(live, "alice"), new_user(live, "bob")
    bucket = fresh_bucket()
    alice.s3.create_bucket(Bucket=bucket)
    alice.s3.put_bucket_acl(Bucket=bucket, GrantRead=f"id={bob.name}",
                            GrantFullControl=f"id={alice.name}")
    with httpx.stream("GET", f"{live.api}/events", params={"bucket": bucket},
                      headers=bob.headers, timeout=30) as stream:
        assert stream.status_code == 200
        alice.s3.put_bucket_acl(Bucket=bucket, ACL="private")
        lines = []
        for line in stream.iter_lines():  # ends when the server closes the stream
            lines.append(line)
    assert "event: error" in lines
    assert any("AccessDenied" in line for line in lines)
