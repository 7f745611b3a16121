"""GetObjectAttributes and whole-object checksums of multipart objects (issue 23)."""

from __future__ import annotations

import base64
import zlib
from typing import Any

import pytest
from awscrt import checksums as crt
from botocore.exceptions import ClientError

PART = 5 * 1024 * 1024


def _crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def _upload(s3: Any, bucket: str, key: str, parts: list[bytes], **create: Any
            ) -> tuple[str, list[dict[str, Any]]]:
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key, **create)["UploadId"]
    algorithm = create.get("ChecksumAlgorithm")
    done = []
    for number, body in enumerate(parts, start=1):
        extra = {"ChecksumAlgorithm": algorithm} if algorithm else {}
        answer = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=number,
                                Body=body, **extra)
        entry = {"PartNumber": number, "ETag": answer["ETag"]}
        if algorithm:
            entry[f"Checksum{algorithm}"] = answer[f"Checksum{algorithm}"]
        done.append(entry)
    return upload, done


def test_attributes_of_a_single_part_object(s3: Any, bucket: str) -> None:
    body = b"attributes" * 100
    put = s3.put_object(Bucket=bucket, Key="k", Body=body, ChecksumAlgorithm="CRC32")
    got = s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=[
        "ETag", "Checksum", "ObjectSize", "StorageClass", "ObjectParts"])
    assert got["ETag"] == put["ETag"].strip('"')
    assert got["ObjectSize"] == len(body) and got["StorageClass"] == "STANDARD"
    assert got["Checksum"]["ChecksumCRC32"] == _crc32(body)
    assert "ObjectParts" not in got
    with pytest.raises(ClientError) as unknown:
        s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["Colour"])
    assert unknown.value.response["Error"]["Code"] == "InvalidRequest"
    with pytest.raises(ClientError) as missing:
        s3.get_object_attributes(Bucket=bucket, Key="nope", ObjectAttributes=["ETag"])
    assert missing.value.response["Error"]["Code"] == "NoSuchKey"


def test_a_composite_checksum_is_kept_and_served_with_checksum_mode(s3: Any,
                                                                   bucket: str) -> None:
    parts = [b"a" * PART, b"b" * PART, b"c" * 1000]
    upload, done = _upload(s3, bucket, "mp", parts, ChecksumAlgorithm="CRC32")
    complete = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload,
                                            MultipartUpload={"Parts": done})
    raw = b"".join(base64.b64decode(_crc32(p)) for p in parts)
    expected = f"{_crc32(raw)}-3"
    assert complete["ChecksumCRC32"] == expected
    assert complete["ChecksumType"] == "COMPOSITE"
    head = s3.head_object(Bucket=bucket, Key="mp", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == expected and head["ChecksumType"] == "COMPOSITE"
    got = s3.get_object_attributes(Bucket=bucket, Key="mp", MaxParts=2,
                                   ObjectAttributes=["ObjectParts", "Checksum"])
    assert got["Checksum"]["ChecksumType"] == "COMPOSITE"
    first = got["ObjectParts"]
    assert first["TotalPartsCount"] == 3 and first["IsTruncated"] is True
    assert [p["PartNumber"] for p in first["Parts"]] == [1, 2]
    assert first["Parts"][0]["ChecksumCRC32"] == _crc32(parts[0])
    rest = s3.get_object_attributes(Bucket=bucket, Key="mp", MaxParts=2,
                                    PartNumberMarker=first["NextPartNumberMarker"],
                                    ObjectAttributes=["ObjectParts"])["ObjectParts"]
    assert [(p["PartNumber"], p["Size"]) for p in rest["Parts"]] == [(3, 1000)]
    assert rest["IsTruncated"] is False


def test_a_full_object_crc_is_checked_on_completion(s3: Any, bucket: str) -> None:
    parts = [b"x" * PART, b"y" * 4321]
    whole = _crc32(b"".join(parts))
    upload, done = _upload(s3, bucket, "full", parts, ChecksumAlgorithm="CRC32",
                           ChecksumType="FULL_OBJECT")
    with pytest.raises(ClientError) as wrong:
        s3.complete_multipart_upload(Bucket=bucket, Key="full", UploadId=upload,
                                     ChecksumCRC32=_crc32(b"something else"),
                                     ChecksumType="FULL_OBJECT",
                                     MultipartUpload={"Parts": done})
    assert wrong.value.response["Error"]["Code"] == "BadDigest"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="full")  # nothing was recorded
    complete = s3.complete_multipart_upload(Bucket=bucket, Key="full", UploadId=upload,
                                            ChecksumCRC32=whole, ChecksumType="FULL_OBJECT",
                                            MultipartUpload={"Parts": done})
    assert complete["ChecksumCRC32"] == whole
    head = s3.head_object(Bucket=bucket, Key="full", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == whole and head["ChecksumType"] == "FULL_OBJECT"


def test_crc64nvme_uploads_are_full_object(s3: Any, bucket: str) -> None:
    parts = [b"n" * PART, b"v" * 99]
    upload, done = _upload(s3, bucket, "nvme", parts, ChecksumAlgorithm="CRC64NVME")
    s3.complete_multipart_upload(Bucket=bucket, Key="nvme", UploadId=upload,
                                 MultipartUpload={"Parts": done})
    expected = base64.b64encode(crt.crc64nvme(b"".join(parts)).to_bytes(8, "big")).decode()
    head = s3.head_object(Bucket=bucket, Key="nvme", ChecksumMode="ENABLED")
    assert head["ChecksumCRC64NVME"] == expected and head["ChecksumType"] == "FULL_OBJECT"


def test_full_object_sha_checksums_are_refused(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as refused:
        s3.create_multipart_upload(Bucket=bucket, Key="k", ChecksumAlgorithm="SHA256",
                                   ChecksumType="FULL_OBJECT")
    assert refused.value.response["Error"]["Code"] == "InvalidRequest"
