"""Multipart uploads through boto3: the transfer manager and the raw calls."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

MiB = 1024 * 1024


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_upload_file_and_download_file_with_multipart(
    s3: Any, bucket: str, tmp_path: Path
) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(13 * MiB))
    config = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB,
                            max_concurrency=4)
    s3.upload_file(str(source), bucket, "big.bin", Config=config)
    head = s3.head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == 13 * MiB
    assert head["ETag"].strip('"').endswith("-3")
    target = tmp_path / "back.bin"
    s3.download_file(bucket, "big.bin", str(target), Config=config)
    assert hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(
        source.read_bytes()).digest()
    second = s3.get_object(Bucket=bucket, Key="big.bin", PartNumber=2)
    assert second["ContentLength"] == 5 * MiB
    assert second["PartsCount"] == 3
    assert second["Body"].read() == source.read_bytes()[5 * MiB:10 * MiB]


def test_parts_are_checked_on_complete(s3: Any, bucket: str) -> None:
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    small = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"a" * 10)
    last = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=2, Body=b"b" * 10)
    listed = s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload)
    assert [(p["PartNumber"], p["Size"]) for p in listed["Parts"]] == [(1, 10), (2, 10)]
    uploads = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in uploads] == [("mp", upload)]
    parts = [{"PartNumber": 1, "ETag": small["ETag"]}, {"PartNumber": 2, "ETag": last["ETag"]}]
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload,
                                     MultipartUpload={"Parts": parts})
    assert _code(exc) == "EntityTooSmall"
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": '"0123"'}]})
    assert _code(exc) == "InvalidPart"
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload,
                                     MultipartUpload={"Parts": parts[::-1]})
    assert _code(exc) == "InvalidPartOrder"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="mp")
    # A single small part is a whole object: the last part may be any size.
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload,
                                        MultipartUpload={"Parts": parts[:1]})
    expected = hashlib.md5(bytes.fromhex(small["ETag"].strip('"'))).hexdigest() + "-1"
    assert done["ETag"] == f'"{expected}"'
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"a" * 10
    with pytest.raises(ClientError) as exc:
        s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload)
    assert _code(exc) == "NoSuchUpload"
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_abort_ends_the_upload(s3: Any, bucket: str) -> None:
    upload = s3.create_multipart_upload(Bucket=bucket, Key="gone")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="gone", UploadId=upload, PartNumber=1, Body=b"x")
    s3.abort_multipart_upload(Bucket=bucket, Key="gone", UploadId=upload)
    with pytest.raises(ClientError) as exc:
        s3.upload_part(Bucket=bucket, Key="gone", UploadId=upload, PartNumber=2, Body=b"y")
    assert _code(exc) == "NoSuchUpload"
    with pytest.raises(ClientError) as exc:
        s3.upload_part(Bucket=bucket, Key="gone", UploadId="not-an-upload", PartNumber=1,
                       Body=b"y")
    assert _code(exc) == "NoSuchUpload"


def test_upload_part_copy_with_and_without_a_range(s3: Any, bucket: str) -> None:
    data = os.urandom(6 * MiB)
    s3.put_object(Bucket=bucket, Key="source", Body=data)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="assembled",
                                        ContentType="application/x-parts")["UploadId"]
    whole = s3.upload_part_copy(Bucket=bucket, Key="assembled", UploadId=upload, PartNumber=1,
                                CopySource={"Bucket": bucket, "Key": "source"})
    ranged = s3.upload_part_copy(Bucket=bucket, Key="assembled", UploadId=upload, PartNumber=2,
                                 CopySource={"Bucket": bucket, "Key": "source"},
                                 CopySourceRange="bytes=100-199")
    assert ranged["CopyPartResult"]["ETag"] == f'"{hashlib.md5(data[100:200]).hexdigest()}"'
    s3.complete_multipart_upload(Bucket=bucket, Key="assembled", UploadId=upload,
                                 MultipartUpload={"Parts": [
                                     {"PartNumber": 1, "ETag": whole["CopyPartResult"]["ETag"]},
                                     {"PartNumber": 2, "ETag": ranged["CopyPartResult"]["ETag"]},
                                 ]})
    got = s3.get_object(Bucket=bucket, Key="assembled")
    assert got["ContentType"] == "application/x-parts"
    assert got["Body"].read() == data + data[100:200]


def test_multipart_with_a_checksum_algorithm(s3: Any, bucket: str) -> None:
    upload = s3.create_multipart_upload(Bucket=bucket, Key="summed",
                                        ChecksumAlgorithm="SHA256")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="summed", UploadId=upload, PartNumber=1,
                          Body=b"z" * 100, ChecksumAlgorithm="SHA256")
    assert part["ChecksumSHA256"]
    done = s3.complete_multipart_upload(Bucket=bucket, Key="summed", UploadId=upload,
                                        MultipartUpload={"Parts": [{
                                            "PartNumber": 1, "ETag": part["ETag"],
                                            "ChecksumSHA256": part["ChecksumSHA256"]}]})
    assert done["ChecksumSHA256"].endswith("-1")


def test_deleting_a_bucket_aborts_its_unfinished_uploads(s3: Any) -> None:
    """As AWS: a client that empties a bucket by deleting its objects can delete it,
    and the uploads it had are aborted (their parts are released for collection)."""
    s3.create_bucket(Bucket="pending-uploads")
    upload = s3.create_multipart_upload(Bucket="pending-uploads", Key="k")["UploadId"]
    s3.upload_part(Bucket="pending-uploads", Key="k", UploadId=upload, PartNumber=1,
                   Body=b"part")
    s3.put_object(Bucket="pending-uploads", Key="object", Body=b"x")
    with pytest.raises(ClientError) as exc:
        s3.delete_bucket(Bucket="pending-uploads")
    assert _code(exc) == "BucketNotEmpty"
    assert len(s3.list_multipart_uploads(Bucket="pending-uploads")["Uploads"]) == 1
    s3.delete_object(Bucket="pending-uploads", Key="object")
    s3.delete_bucket(Bucket="pending-uploads")
    s3.create_bucket(Bucket="pending-uploads")
    assert "Uploads" not in s3.list_multipart_uploads(Bucket="pending-uploads")
    with pytest.raises(ClientError) as aborted:
        s3.list_parts(Bucket="pending-uploads", Key="k", UploadId=upload)
    assert _code(aborted) == "NoSuchUpload"
