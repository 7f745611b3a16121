"""boto3 against a real strata serve: objects, versions, copies, conditions, listings."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import unquote

import pytest
from botocore.exceptions import ClientError


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def _keys(s3: Any, bucket: str, **kwargs: Any) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, **kwargs).get("Contents", [])]


@pytest.mark.parametrize("key", [
    "spaces in name.txt", "plus+sign", "percent%20literal", "unicode/ünïcødé-日本.txt",
    "dots/../up", "tab\tand\x01control", "question?mark&amp=x", "trailing/slash/",
    "#hash", "~tilde", "a" * 1024,
])
def test_awkward_keys_round_trip(s3: Any, bucket: str, key: str) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()
    assert _keys(s3, bucket) == [key]
    # boto3 decodes only when it asked for url encoding itself (it does for v1 lists).
    assert [unquote(k) for k in _keys(s3, bucket, EncodingType="url")] == [key]


def test_listing_is_in_utf8_binary_order(s3: Any, bucket: str) -> None:
    keys = ["Z", "a", "é", "日本", "\x7f", "~", "ab", "a/b"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"")
    assert _keys(s3, bucket) == sorted(keys, key=lambda k: k.encode())


def test_key_over_1024_bytes_is_refused_and_nothing_stored(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="k" * 1025, Body=b"x")
    assert _code(exc) == "KeyTooLongError"
    assert _keys(s3, bucket) == []


def test_oversized_metadata_is_refused_and_nothing_stored(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="big-meta", Body=b"x", Metadata={"m": "v" * 2100})
    assert _code(exc) == "MetadataTooLarge"
    assert _keys(s3, bucket) == []


def test_stored_headers_come_back(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="page.html", Body=b"<p>", ContentType="text/html",
                  ContentDisposition='attachment; filename="p.html"', ContentEncoding="identity",
                  CacheControl="max-age=60", Expires=dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    got = s3.get_object(Bucket=bucket, Key="page.html")
    assert got["ContentType"] == "text/html"
    assert got["ContentDisposition"] == 'attachment; filename="p.html"'
    assert got["ContentEncoding"] == "identity"
    assert got["CacheControl"] == "max-age=60"
    assert got["ExpiresString"] == "Tue, 01 Jan 2030 00:00:00 GMT"
    overridden = s3.get_object(Bucket=bucket, Key="page.html",
                               ResponseContentType="application/x-test",
                               ResponseCacheControl="no-store")
    assert overridden["ContentType"] == "application/x-test"
    assert overridden["CacheControl"] == "no-store"


def test_ranges_and_read_conditions(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="r", Body=b"0123456789")["ETag"]
    part = s3.get_object(Bucket=bucket, Key="r", Range="bytes=2-5")
    assert part["Body"].read() == b"2345"
    assert part["ContentRange"] == "bytes 2-5/10"
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=-3")["Body"].read() == b"789"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="r", Range="bytes=20-30")
    assert _code(exc) == "InvalidRange"
    assert s3.get_object(Bucket=bucket, Key="r", IfMatch=etag)["Body"].read() == b"0123456789"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="r", IfMatch='"0000"')
    assert _code(exc) == "PreconditionFailed"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="r", IfNoneMatch=etag)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    future = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="r", IfModifiedSince=future)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="r", IfUnmodifiedSince=past)
    assert _code(exc) == "PreconditionFailed"
    assert s3.head_object(Bucket=bucket, Key="r", IfModifiedSince=past)["ContentLength"] == 10


def test_conditional_writes(s3: Any, bucket: str) -> None:
    first = s3.put_object(Bucket=bucket, Key="c", Body=b"one", IfNoneMatch="*")["ETag"]
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="c", Body=b"two", IfNoneMatch="*")
    assert _code(exc) == "PreconditionFailed"
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="c", Body=b"two", IfMatch='"ffff"')
    assert _code(exc) == "PreconditionFailed"
    s3.put_object(Bucket=bucket, Key="c", Body=b"three", IfMatch=first)
    assert s3.get_object(Bucket=bucket, Key="c")["Body"].read() == b"three"


def test_versions_and_delete_markers(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    v1 = s3.put_object(Bucket=bucket, Key="doc", Body=b"v1")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="doc", Body=b"v2")["VersionId"]
    assert v1 != v2
    deleted = s3.delete_object(Bucket=bucket, Key="doc")
    assert deleted["DeleteMarker"] is True
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="doc")
    assert exc.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    assert s3.get_object(Bucket=bucket, Key="doc", VersionId=v1)["Body"].read() == b"v1"
    listed = s3.list_object_versions(Bucket=bucket)
    assert [(v["VersionId"], v["IsLatest"]) for v in listed["Versions"]] == [
        (v2, False), (v1, False)]
    assert [(m["VersionId"], m["IsLatest"]) for m in listed["DeleteMarkers"]] == [
        (deleted["VersionId"], True)]
    s3.delete_object(Bucket=bucket, Key="doc", VersionId=deleted["VersionId"])
    assert s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"v2"
    page = s3.list_object_versions(Bucket=bucket, MaxKeys=1)
    assert page["IsTruncated"] and page["NextVersionIdMarker"] == v2
    rest = s3.list_object_versions(Bucket=bucket, KeyMarker=page["NextKeyMarker"],
                                   VersionIdMarker=page["NextVersionIdMarker"])
    assert [v["VersionId"] for v in rest["Versions"]] == [v1]


def test_copy_shares_bytes_and_follows_the_metadata_directive(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"payload", ContentType="text/plain",
                  Metadata={"a": "1"})
    copied = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert copied["CopyObjectResult"]["ETag"] == s3.head_object(Bucket=bucket, Key="src")["ETag"]
    head = s3.head_object(Bucket=bucket, Key="dst")
    assert head["Metadata"] == {"a": "1"} and head["ContentType"] == "text/plain"
    s3.copy_object(Bucket=bucket, Key="dst2", CopySource=f"{bucket}/src",
                   MetadataDirective="REPLACE", Metadata={"b": "2"}, ContentType="x/y")
    head = s3.head_object(Bucket=bucket, Key="dst2")
    assert head["Metadata"] == {"b": "2"} and head["ContentType"] == "x/y"
    assert s3.get_object(Bucket=bucket, Key="dst2")["Body"].read() == b"payload"
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="src", CopySource=f"{bucket}/src")
    assert _code(exc) == "InvalidRequest"
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="dst3", CopySource=f"{bucket}/src",
                       CopySourceIfMatch='"nope"')
    assert _code(exc) == "PreconditionFailed"
    assert "dst3" not in _keys(s3, bucket)
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="dst4", CopySource=f"{bucket}/missing")
    assert _code(exc) == "NoSuchKey"


def test_copy_of_an_old_version(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket=bucket, Key="k", Body=b"old")["VersionId"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"new")
    result = s3.copy_object(Bucket=bucket, Key="restored",
                            CopySource={"Bucket": bucket, "Key": "k", "VersionId": old})
    assert result["CopySourceVersionId"] == old
    assert s3.get_object(Bucket=bucket, Key="restored")["Body"].read() == b"old"


def test_delete_objects_verbose_and_quiet(s3: Any, bucket: str) -> None:
    for key in ("a", "b", "c"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    verbose = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a"}, {"Key": "zz"}]})
    assert sorted(d["Key"] for d in verbose["Deleted"]) == ["a", "zz"]
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "b"}], "Quiet": True})
    assert "Deleted" not in quiet and "Errors" not in quiet
    assert _keys(s3, bucket) == ["c"]


def test_listing_pagination_delimiters_and_markers(s3: Any, bucket: str) -> None:
    keys = [f"dir{d}/file{f}" for d in range(3) for f in range(3)] + ["top1", "top2"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"")
    paginator = s3.get_paginator("list_objects_v2")
    seen = [o["Key"] for page in paginator.paginate(Bucket=bucket, PaginationConfig={
        "PageSize": 4}) for o in page.get("Contents", [])]
    assert seen == sorted(keys)
    v1 = [o["Key"] for page in s3.get_paginator("list_objects").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": 3}) for o in page.get("Contents", [])]
    assert v1 == sorted(keys)
    rolled = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in rolled["CommonPrefixes"]] == ["dir0/", "dir1/", "dir2/"]
    assert [o["Key"] for o in rolled["Contents"]] == ["top1", "top2"]
    after = s3.list_objects_v2(Bucket=bucket, StartAfter="dir2/file0", Prefix="dir2/")
    assert [o["Key"] for o in after["Contents"]] == ["dir2/file1", "dir2/file2"]
    owners = s3.list_objects_v2(Bucket=bucket, FetchOwner=True, MaxKeys=1)
    assert owners["Contents"][0]["Owner"]["ID"] == "root"
    assert s3.list_objects_v2(Bucket=bucket, MaxKeys=0)["KeyCount"] == 0


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"])
def test_flexible_checksums_are_verified_kept_and_returned(
    s3: Any, bucket: str, algorithm: str
) -> None:
    put = s3.put_object(Bucket=bucket, Key="sum", Body=b"checksummed", ChecksumAlgorithm=algorithm)
    value = put[f"Checksum{algorithm}"]
    head = s3.head_object(Bucket=bucket, Key="sum", ChecksumMode="ENABLED")
    assert head[f"Checksum{algorithm}"] == value
    got = s3.get_object(Bucket=bucket, Key="sum", ChecksumMode="ENABLED")
    assert got["Body"].read() == b"checksummed"


def test_bucket_lifecycle_and_errors(s3: Any) -> None:
    s3.create_bucket(Bucket="lifecycle-bucket")
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket="lifecycle-bucket")
    assert _code(exc) == "BucketAlreadyOwnedByYou"
    assert s3.get_bucket_location(Bucket="lifecycle-bucket")["LocationConstraint"] is None
    assert "lifecycle-bucket" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3.put_object(Bucket="lifecycle-bucket", Key="k", Body=b"x")
    with pytest.raises(ClientError) as exc:
        s3.delete_bucket(Bucket="lifecycle-bucket")
    assert _code(exc) == "BucketNotEmpty"
    s3.delete_object(Bucket="lifecycle-bucket", Key="k")
    s3.delete_bucket(Bucket="lifecycle-bucket")
    with pytest.raises(ClientError) as exc:
        s3.head_bucket(Bucket="lifecycle-bucket")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    for bad in ("UPPER", "ab", "under_score", "-dash", "a" * 64, "192.168.1.1"):
        with pytest.raises(ClientError) as exc:
            s3.create_bucket(Bucket=bad)
        assert _code(exc) == "InvalidBucketName", bad
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket="elsewhere-bucket",
                         CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert _code(exc) == "InvalidLocationConstraint"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket="no-such-bucket-here", Key="k")
    assert _code(exc) == "NoSuchBucket"
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_policy(Bucket="no-such-bucket-here")
    assert _code(exc) == "NoSuchBucket"


def test_unconfigured_sub_resources_answer_like_s3(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_cors(Bucket=bucket)
    assert _code(exc) == "NoSuchCORSConfiguration"
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_policy(Bucket=bucket)
    assert _code(exc) == "NoSuchBucketPolicy"
