"""Object and bucket tags through a real server with boto3 (issue 23)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.s3.conftest import create_user_keys, make_client


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def _tags(s3: Any, bucket: str, key: str, **kw: Any) -> dict[str, str]:
    got = s3.get_object_tagging(Bucket=bucket, Key=key, **kw)["TagSet"]
    return {t["Key"]: t["Value"] for t in got}


def _tag_set(tags: dict[str, str]) -> dict[str, Any]:
    return {"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]}


def test_object_tags_are_put_read_counted_and_deleted(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="team=blue&stage=dev%20one")
    assert _tags(s3, bucket, "k") == {"team": "blue", "stage": "dev one"}
    assert s3.head_object(Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPHeaders"][
        "x-amz-tagging-count"] == "2"
    assert s3.get_object(Bucket=bucket, Key="k")["TagCount"] == 2
    s3.put_object_tagging(Bucket=bucket, Key="k",
                          Tagging=_tag_set({"été": "über ünïcode", "a:b/c": "x=y+z@q"}))
    assert _tags(s3, bucket, "k") == {"été": "über ünïcode", "a:b/c": "x=y+z@q"}
    s3.delete_object_tagging(Bucket=bucket, Key="k")
    assert _tags(s3, bucket, "k") == {}
    assert "x-amz-tagging-count" not in s3.head_object(Bucket=bucket, Key="k")[
        "ResponseMetadata"]["HTTPHeaders"]
    with pytest.raises(ClientError) as missing:
        s3.put_object_tagging(Bucket=bucket, Key="nope", Tagging=_tag_set({"a": "b"}))
    assert _code(missing) == "NoSuchKey"


@pytest.mark.parametrize(("tags", "code"), [
    ({f"k{i}": "v" for i in range(11)}, "BadRequest"),
    ({"k" * 129: "v"}, "InvalidTag"),
    ({"k": "v" * 257}, "InvalidTag"),
    ({"aws:reserved": "v"}, "InvalidTag"),
    ({"bad#char": "v"}, "InvalidTag"),
    ({"k": "bad\nvalue"}, "InvalidTag"),
])
def test_object_tags_beyond_s3_limits_are_refused_and_change_nothing(
        s3: Any, bucket: str, tags: dict[str, str], code: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="keep=me")
    with pytest.raises(ClientError) as refused:
        s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=_tag_set(tags))
    assert _code(refused) == code
    assert _tags(s3, bucket, "k") == {"keep": "me"}


def test_ten_tags_and_the_longest_key_and_value_are_accepted(s3: Any, bucket: str) -> None:
    tags = {f"k{i}": "v" for i in range(9)} | {"k" * 128: "v" * 256}
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=_tag_set(tags))
    assert _tags(s3, bucket, "k") == tags


def test_duplicate_tag_keys_and_a_bad_header_are_refused_before_storing(
        s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as duplicate:
        s3.put_object(Bucket=bucket, Key="dup", Body=b"x", Tagging="a=1&a=2")
    assert _code(duplicate) == "InvalidTag"
    with pytest.raises(ClientError) as many:
        s3.put_object(Bucket=bucket, Key="many", Body=b"x",
                      Tagging="&".join(f"k{i}=v" for i in range(11)))
    assert _code(many) == "BadRequest"
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    assert listed == []


def test_tags_belong_to_their_version(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="k", Body=b"1", Tagging="v=1")["VersionId"]
    second = s3.put_object(Bucket=bucket, Key="k", Body=b"2")["VersionId"]
    assert _tags(s3, bucket, "k") == {}
    assert _tags(s3, bucket, "k", VersionId=first) == {"v": "1"}
    answer = s3.put_object_tagging(Bucket=bucket, Key="k", VersionId=first,
                                   Tagging=_tag_set({"v": "one"}))
    assert answer["VersionId"] == first
    assert _tags(s3, bucket, "k", VersionId=first) == {"v": "one"}
    assert _tags(s3, bucket, "k", VersionId=second) == {}


def test_copy_keeps_or_replaces_tags_by_directive(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"x", Tagging="from=source")
    s3.copy_object(Bucket=bucket, Key="kept", CopySource={"Bucket": bucket, "Key": "src"})
    assert _tags(s3, bucket, "kept") == {"from": "source"}
    s3.copy_object(Bucket=bucket, Key="replaced", CopySource={"Bucket": bucket, "Key": "src"},
                   TaggingDirective="REPLACE", Tagging="from=copy")
    assert _tags(s3, bucket, "replaced") == {"from": "copy"}
    s3.copy_object(Bucket=bucket, Key="none", CopySource={"Bucket": bucket, "Key": "src"},
                   TaggingDirective="REPLACE")
    assert _tags(s3, bucket, "none") == {}


def test_multipart_upload_tags_the_object_it_becomes(s3: Any, bucket: str) -> None:
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", Tagging="kind=multi")
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload["UploadId"], PartNumber=1,
                          Body=b"x" * 100)
    s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert _tags(s3, bucket, "mp") == {"kind": "multi"}


def test_bucket_tags_are_put_read_and_deleted(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as none:
        s3.get_bucket_tagging(Bucket=bucket)
    assert _code(none) == "NoSuchTagSet"
    s3.put_bucket_tagging(Bucket=bucket, Tagging=_tag_set({"cost-center": "42"}))
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [
        {"Key": "cost-center", "Value": "42"}]
    with pytest.raises(ClientError) as too_many:
        s3.put_bucket_tagging(Bucket=bucket, Tagging=_tag_set({f"k{i}": "v" for i in range(51)}))
    assert _code(too_many) == "BadRequest"
    s3.put_bucket_tagging(Bucket=bucket, Tagging=_tag_set({f"k{i}": "v" for i in range(50)}))
    assert len(s3.get_bucket_tagging(Bucket=bucket)["TagSet"]) == 50
    s3.delete_bucket_tagging(Bucket=bucket)
    with pytest.raises(ClientError) as gone:
        s3.get_bucket_tagging(Bucket=bucket)
    assert _code(gone) == "NoSuchTagSet"


def test_other_users_may_neither_read_nor_change_tags(s3_server: Any, s3: Any,
                                                      bucket: str) -> None:
    access_key, secret = create_user_keys(s3_server, "mallory-tags")
    other = make_client(s3_server, access_key, secret)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="secret=1")
    for attempt in (
        lambda: other.get_object_tagging(Bucket=bucket, Key="k"),
        lambda: other.put_object_tagging(Bucket=bucket, Key="k", Tagging=_tag_set({"a": "b"})),
        lambda: other.delete_object_tagging(Bucket=bucket, Key="k"),
        lambda: other.get_bucket_tagging(Bucket=bucket),
        lambda: other.put_bucket_tagging(Bucket=bucket, Tagging=_tag_set({"a": "b"})),
    ):
        with pytest.raises(ClientError) as denied:
            attempt()
        assert _code(denied) == "AccessDenied"
    assert _tags(s3, bucket, "k") == {"secret": "1"}
