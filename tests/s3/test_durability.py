"""Multipart uploads survive kill -9; parts of aborted uploads are collected."""

from __future__ import annotations

import os
import time

from tests.conftest import Server, stored_chunks
from tests.s3.conftest import make_client

MiB = 1024 * 1024


def test_acknowledged_parts_survive_kill_9(server: Server) -> None:
    s3 = make_client(server)
    s3.create_bucket(Bucket="durable")
    upload = s3.create_multipart_upload(Bucket="durable", Key="big")["UploadId"]
    first, second = os.urandom(5 * MiB), os.urandom(1000)
    etags = [s3.upload_part(Bucket="durable", Key="big", UploadId=upload, PartNumber=n,
                            Body=body)["ETag"] for n, body in ((1, first), (2, second))]
    server.kill()
    server.start()
    s3 = make_client(server)
    s3.complete_multipart_upload(Bucket="durable", Key="big", UploadId=upload, MultipartUpload={
        "Parts": [{"PartNumber": n, "ETag": e} for n, e in ((1, etags[0]), (2, etags[1]))]})
    assert s3.get_object(Bucket="durable", Key="big")["Body"].read() == first + second


def test_parts_of_an_aborted_upload_are_collected(server: Server) -> None:
    s3 = make_client(server)
    s3.create_bucket(Bucket="aborted")
    before = stored_chunks(server.data_dir)
    upload = s3.create_multipart_upload(Bucket="aborted", Key="k")["UploadId"]
    s3.upload_part(Bucket="aborted", Key="k", UploadId=upload, PartNumber=1,
                   Body=os.urandom(600 * 1024))
    with_part = stored_chunks(server.data_dir)
    assert with_part > before
    time.sleep(2.5)  # past the test server's 1 s grace: held parts must stay
    assert stored_chunks(server.data_dir) == with_part
    s3.abort_multipart_upload(Bucket="aborted", Key="k", UploadId=upload)
    deadline = time.monotonic() + 30
    while stored_chunks(server.data_dir) != before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert stored_chunks(server.data_dir) == before


def test_metadata_named_like_the_store_s_own_markers_is_kept_as_sent(server: Server) -> None:
    """eventsourcing stores a datetime as {"_type_": ..., "_data_": ...}: metadata with
    those two names once read back as a datetime, or made its event unreadable."""
    shapes = {"unknown": {"_type_": "nope", "_data_": "x"},
              "date": {"_type_": "datetime_iso", "_data_": "2020-01-01T00:00:00"}}
    s3 = make_client(server)
    s3.create_bucket(Bucket="markers")
    for key, metadata in shapes.items():
        s3.put_object(Bucket="markers", Key=key, Body=key.encode(), Metadata=metadata)
    server.kill()
    server.start()  # commands and reads now load every object from the log
    s3 = make_client(server)
    for key, metadata in shapes.items():
        assert s3.head_object(Bucket="markers", Key=key)["Metadata"] == metadata
        s3.put_object(Bucket="markers", Key=key, Body=b"again")
    listed = s3.list_objects_v2(Bucket="markers")["Contents"]
    assert sorted(o["Key"] for o in listed) == ["date", "unknown"]
