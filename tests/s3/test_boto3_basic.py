"""boto3 against a real strata serve: the everyday calls."""

from __future__ import annotations

from typing import Any


def test_put_get_head_delete_roundtrip(s3: Any, bucket: str) -> None:
    put = s3.put_object(Bucket=bucket, Key="hello.txt", Body=b"hello world",
                        ContentType="text/plain", Metadata={"colour": "blue"})
    assert put["ETag"] == '"5eb63bbbe01eeed093cb22bb8f5acdc3"'
    got = s3.get_object(Bucket=bucket, Key="hello.txt")
    assert got["Body"].read() == b"hello world"
    assert got["ContentType"] == "text/plain"
    assert got["Metadata"] == {"colour": "blue"}
    head = s3.head_object(Bucket=bucket, Key="hello.txt")
    assert head["ContentLength"] == 11
    s3.delete_object(Bucket=bucket, Key="hello.txt")
    listed = s3.list_objects_v2(Bucket=bucket)
    assert listed["KeyCount"] == 0
