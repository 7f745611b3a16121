"""Both doors share one core: what one writes the other reads; reads never mix bodies."""

from __future__ import annotations

import threading
from typing import Any

import httpx

from tests.conftest import Server


def test_a_write_through_one_door_is_read_through_the_other(
    s3_server: Server, s3: Any, bucket: str
) -> None:
    s3.put_object(Bucket=bucket, Key="from-s3", Body=b"written by boto3",
                  Metadata={"via": "s3"})
    auth = s3_server.token()
    native = httpx.get(f"{s3_server.api}/buckets/{bucket}/objects/from-s3", headers=auth)
    assert native.status_code == 200 and native.content == b"written by boto3"
    meta = httpx.get(f"{s3_server.api}/buckets/{bucket}/meta/from-s3", headers=auth).json()
    assert meta["metadata"] == {"via": "s3"}
    uploaded = httpx.post(f"{s3_server.api}/buckets/{bucket}/upload?key=from-native",
                          content=b"written natively", headers=auth)
    assert uploaded.status_code == 201
    assert s3.get_object(Bucket=bucket, Key="from-native")["Body"].read() == b"written natively"
    assert uploaded.json()["etag"] == s3.head_object(
        Bucket=bucket, Key="from-native")["ETag"].strip('"')


def test_an_overwrite_racing_reads_never_yields_a_mix(s3: Any, bucket: str) -> None:
    size = 1024 * 1024 + 17  # several chunks on the test server
    bodies = [bytes([65 + n]) * size for n in range(4)]
    s3.put_object(Bucket=bucket, Key="hot", Body=bodies[0])
    stop = threading.Event()
    seen: list[bytes] = []
    errors: list[BaseException] = []

    def write() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            s3.put_object(Bucket=bucket, Key="hot", Body=bodies[n % len(bodies)])

    def read() -> None:
        try:
            for _ in range(25):
                seen.append(s3.get_object(Bucket=bucket, Key="hot")["Body"].read())
        except BaseException as exc:  # reported below
            errors.append(exc)

    writer = threading.Thread(target=write)
    readers = [threading.Thread(target=read) for _ in range(2)]
    writer.start()
    for r in readers:
        r.start()
    for r in readers:
        r.join(120)
    stop.set()
    writer.join(60)
    assert not errors
    assert len(seen) == 50
    assert all(body in bodies for body in seen)
