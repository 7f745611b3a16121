"""Two API instances over one PostgreSQL store, their views fed from Kafka."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
from botocore.exceptions import ClientError

from tests.conftest import ROOT_AK, ROOT_SK, Server
from tests.s3.conftest import make_client


def s3(server: Server):  # type: ignore[no-untyped-def]
    return make_client(server, ROOT_AK, ROOT_SK)


def test_a_put_through_one_instance_is_listed_at_once_by_the_other(
    two_apis: list[Server],
) -> None:
    a, b = (s3(server) for server in two_apis)
    a.create_bucket(Bucket="shared")
    for i in range(20):
        a.put_object(Bucket="shared", Key=f"k{i:02d}", Body=f"v{i}".encode())
        listed = b.list_objects_v2(Bucket="shared")["Contents"]
        assert [o["Key"] for o in listed][-1] == f"k{i:02d}"
        assert b.get_object(Bucket="shared", Key=f"k{i:02d}")["Body"].read() == f"v{i}".encode()


def test_a_bucket_deleted_through_one_instance_never_keeps_a_write_through_the_other(
    two_apis: list[Server],
) -> None:
    a, b = (s3(server) for server in two_apis)
    for n in range(12):
        bucket = f"race-{n}"
        a.create_bucket(Bucket=bucket)
        start = threading.Barrier(2)
        results: dict[str, str] = {}

        def put(client: Any = a, bucket: str = bucket, start: threading.Barrier = start,
                results: dict[str, str] = results) -> None:
            start.wait()
            try:
                client.put_object(Bucket=bucket, Key="k", Body=b"x")
                results["put"] = "ok"
            except ClientError as exc:
                results["put"] = exc.response["Error"]["Code"]

        writer = threading.Thread(target=put)
        writer.start()
        start.wait()
        try:
            b.delete_bucket(Bucket=bucket)
            results["delete"] = "ok"
        except ClientError as exc:
            results["delete"] = exc.response["Error"]["Code"]
        writer.join()
        assert (results["put"], results["delete"]) in {
            ("ok", "BucketNotEmpty"), ("NoSuchBucket", "ok")}, results
        if results["delete"] == "BucketNotEmpty":
            assert b.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"


def test_an_instance_killed_and_restarted_resumes_its_views_from_where_they_were(
    two_apis: list[Server],
) -> None:
    first, second = two_apis
    a, b = s3(first), s3(second)
    a.create_bucket(Bucket="resumed")
    for n in range(5):
        a.put_object(Bucket="resumed", Key=f"before-{n}", Body=b"x")
    assert len(b.list_objects_v2(Bucket="resumed")["Contents"]) == 5
    second.kill()
    for n in range(5):
        a.put_object(Bucket="resumed", Key=f"while-down-{n}", Body=b"y")
    a.delete_object(Bucket="resumed", Key="before-0")
    second.start()
    b = s3(second)
    keys = [o["Key"] for o in b.list_objects_v2(Bucket="resumed")["Contents"]]
    assert keys == [f"before-{n}" for n in range(1, 5)] + [f"while-down-{n}" for n in range(5)]
    stats = httpx.get(f"{second.api}/metrics").text
    assert "strata_feed_duplicates_total 0" in stats  # it did not read the topic again


def test_an_instance_restarted_while_the_relay_is_down_starts_and_serves(
    two_apis: list[Server], relay: Any
) -> None:
    """Issue 20, item 2: start-up does not wait for the views to catch up with the store."""
    first, second = two_apis
    a = s3(first)
    a.create_bucket(Bucket="relay-down")
    a.put_object(Bucket="relay-down", Key="before", Body=b"x")
    second.kill()
    relay.kill()
    a.put_object(Bucket="relay-down", Key="while-down", Body=b"y")  # stored, not relayed
    second.start(timeout=60)  # it used to exit: BarrierTimeout at the membership refresh
    health = httpx.get(f"{second.api}/healthz").json()
    assert health["status"] == "ok" and health["views_behind_events"] >= 1, health
    b = s3(second)
    assert b.get_object(Bucket="relay-down", Key="while-down")["Body"].read() == b"y"
    b.put_object(Bucket="relay-down", Key="through-the-restarted", Body=b"z")
    assert a.get_object(Bucket="relay-down", Key="through-the-restarted")["Body"].read() == b"z"
    relay.start()
    deadline = time.monotonic() + 60
    while httpx.get(f"{second.api}/healthz").json()["views_behind_events"] > 0:
        assert time.monotonic() < deadline, "the restarted instance's views never caught up"
        time.sleep(0.2)
    keys = [o["Key"] for o in b.list_objects_v2(Bucket="relay-down")["Contents"]]
    assert keys == ["before", "through-the-restarted", "while-down"]
