"""Issue 22, item 8: replication to another vendor's S3 store, through the S3 protocol.
In `make test` the store is a second strata reached only through its S3 door; the slow
test replicates to Ceph radosgw (../shared/peers/ceph-rgw) when it is up."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import ROOT_AK, ROOT_SK, Server
from tests.geo.sites import (
    admin,
    replicate,
    replication_status,
    running,
    settled_rule,
    site_server,
    versioned_bucket,
    wait_until_equal,
)
from tests.s3.conftest import make_client

CEPH_ENV = Path("/tmp/cephpeer/env")
BIG = 9 * 1024 * 1024  # above the 8 MiB where the sink switches to a multipart upload


def _client(endpoint: str, access_key: str, secret_key: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=access_key,
                        aws_secret_access_key=secret_key, region_name="us-east-1",
                        config=Config(signature_version="s3v4",
                                      s3={"addressing_style": "path"}))


def _register_s3(source: Server, endpoint: str, access_key: str, secret_key: str) -> None:
    with admin(source) as api:
        r = api.put("/admin/sites/foreign", json={
            "endpoint": "s3+" + endpoint, "access_key": access_key, "secret_key": secret_key})
        assert r.status_code in (200, 201), r.text


def _current(s3: Any, bucket: str) -> dict[str, tuple[bytes, str, dict[str, str]]]:
    """Each current object's bytes, type, cache control and metadata. A key deleted
    between the listing and its read (replication still under way) is left out: the
    caller polls until both sides agree."""
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            try:
                got = s3.get_object(Bucket=bucket, Key=item["Key"])
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "NoSuchKey":
                    raise
                continue
            found[item["Key"]] = (got["Body"].read(), got["ContentType"],
                                  got.get("CacheControl"), got["Metadata"])
    return found


def _replicates_with_s3_fidelity(source: Server, sink: Any, bucket: str) -> None:
    s3 = make_client(source)
    s3.put_object(Bucket="src", Key="doc.txt", Body=b"hello", ContentType="text/plain",
                  CacheControl="max-age=60", Metadata={"colour": "blue"})
    s3.put_object(Bucket="src", Key="big.bin", Body=os.urandom(BIG))
    s3.put_object(Bucket="src", Key="gone", Body=b"soon deleted")
    s3.delete_object(Bucket="src", Key="gone")  # a delete marker travels as a DeleteObject
    old = s3.put_object(Bucket="src", Key="doc.txt", Body=b"hello again",
                        ContentType="text/plain", Metadata={"colour": "red"})["VersionId"]
    s3.put_object(Bucket="src", Key="doc.txt", Body=b"hello, finally",
                  ContentType="text/markdown", Metadata={"colour": "green"})
    s3.delete_object(Bucket="src", Key="doc.txt", VersionId=old)  # does not travel
    s3.put_object_acl(Bucket="src", Key="big.bin", ACL="public-read")  # does not travel

    def replicated() -> dict[str, Any]:
        strip = ("strata-version-id", "strata-last-modified", "strata-origin-site",
                 "strata-origin-position")
        return {k: (body, ctype, cache, {m: v for m, v in meta.items() if m not in strip})
                for k, (body, ctype, cache, meta) in _current(sink, bucket).items()}

    wait_until_equal(replicated, lambda: _current(s3, "src"), "the S3 store's objects")
    doc = sink.head_object(Bucket=bucket, Key="doc.txt")["Metadata"]
    assert doc["strata-version-id"] == s3.head_object(Bucket="src", Key="doc.txt")["VersionId"]
    assert doc["strata-origin-site"] == "site-a"
    markers = sink.list_object_versions(Bucket=bucket, Prefix="gone").get("DeleteMarkers", [])
    assert [m["IsLatest"] for m in markers] == [True]
    rule = settled_rule(source, "src")
    # 5 puts and 1 marker applied; the version removal and the ACL change did not travel
    assert (rule["applied"], rule["unchanged"], rule["failed"]) == (6, 2, 0)


@pytest.fixture
def source_and_store(tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    a, store = site_server(tmp_path, "site-a"), site_server(tmp_path, "store")
    with running(a, store):
        yield a, store


def test_changes_reach_an_s3_store_through_its_s3_door(
        source_and_store: tuple[Server, Server]) -> None:
    a, store = source_and_store
    sink = _client(store.s3, ROOT_AK, ROOT_SK)
    sink.create_bucket(Bucket="foreign")
    sink.put_bucket_versioning(Bucket="foreign",
                               VersioningConfiguration={"Status": "Enabled"})
    _register_s3(a, store.s3, ROOT_AK, ROOT_SK)
    versioned_bucket(a, "src")
    replicate(a, "src", "foreign", "foreign")
    _replicates_with_s3_fidelity(a, sink, "foreign")


def test_a_store_that_refuses_gets_dead_letters_and_a_wrong_endpoint_is_refused(
        source_and_store: tuple[Server, Server]) -> None:
    a, store = source_and_store
    with admin(a) as api:
        r = api.put("/admin/sites/bad", json={"endpoint": "s3+ftp://127.0.0.1:1",
                                              "access_key": "k", "secret_key": "s"})
        assert r.status_code == 400 and "s3+http" in r.text
    _register_s3(a, store.s3, ROOT_AK, ROOT_SK)  # but no bucket "foreign" there
    versioned_bucket(a, "src")
    replicate(a, "src", "foreign", "foreign")
    make_client(a).put_object(Bucket="src", Key="k", Body=b"x")
    wait_until_equal(lambda: replication_status(a, "src")["rules"][0]["failed"], lambda: 1,
                     "the refused put")
    [failure] = replication_status(a, "src")["rules"][0]["recent_failures"]
    assert failure["error"].startswith("NoSuchBucket")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code < 500
    except httpx.TransportError:
        return False


@pytest.mark.slow
def test_changes_reach_ceph_radosgw(tmp_path: Path) -> None:
    if not CEPH_ENV.exists() or not _answers("http://127.0.0.1:7480"):
        pytest.skip("Ceph radosgw is not up: ../shared/peers/ceph-rgw/up.sh")
    values = dict(line.removeprefix("export ").split("=", 1)
                  for line in CEPH_ENV.read_text().splitlines() if line.startswith("export "))
    endpoint = values["S3_ENDPOINT"]
    access_key, secret_key = values["S3_MAIN_ACCESS_KEY"], values["S3_MAIN_SECRET_KEY"]
    sink = _client(endpoint, access_key, secret_key)
    bucket = f"strata-geo-{os.urandom(4).hex()}"
    sink.create_bucket(Bucket=bucket)
    sink.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    a = site_server(tmp_path, "site-a")
    a.start()
    try:
        _register_s3(a, endpoint, access_key, secret_key)
        versioned_bucket(a, "src")
        replicate(a, "src", "foreign", bucket)
        _replicates_with_s3_fidelity(a, sink, bucket)
    finally:
        a.stop()
