"""Server-side encryption through a real server over HTTPS with boto3 (issue 25):
SSE-S3, SSE-KMS and SSE-C on PUT, GET with ranges, HEAD, copy, multipart and bucket
default encryption; no plaintext of an encrypted object in the data directory; wrong
or missing SSE-C keys refused; rotation keeps every object readable."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from infra.kms import LocalKeyService
from tests.conftest import Server, running, server_env, wait_until
from tests.s3.conftest import make_client, tls_server_at

KMS_KEY = "app-key"
MARKER = b"plaintext-that-must-never-be-on-disk-"


def _body(size: int, marked: bool = True) -> bytes:
    """Bytes that a raw scan of the data directory would find if stored in the clear
    (unless not `marked`: for tests that store some of it in the clear on purpose)."""
    unit = (MARKER if marked else b"") + os.urandom(16)
    return (unit * (size // len(unit) + 1))[:size]


@pytest.fixture(scope="module")
def sse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("sse")
    LocalKeyService(root / "data" / "keys").create(KMS_KEY)
    srv = tls_server_at(root, STRATA_KEY_REWRAP_SECONDS="0.5")
    with running(srv):
        yield srv


def rewrapped(server: Server, key: str | None = None) -> list[dict[str, Any]]:
    """The data-key re-wrap events so far (of one object key, if named)."""
    import httpx

    found, after = [], 0
    while True:
        page = httpx.get(f"{server.api}/audit", headers=server.token(), verify=server.http_verify,
                         params={"type": "ObjectKey.DataKeyRewrapped", "after": after,
                                 "limit": 1000}).json()
        found += [e for e in page["events"] if key is None or e["key"] == key]
        if page["next_after"] is None:
            return found
        after = page["next_after"]


@pytest.fixture(scope="module")
def s3(sse_server: Server) -> Any:
    return make_client(sse_server)


def _customer(seed: bytes = b"one") -> dict[str, str]:
    key = hashlib.sha256(seed).digest()
    return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": base64.b64encode(key).decode(),
            "SSECustomerKeyMD5": base64.b64encode(hashlib.md5(key).digest()).decode()}


def _no_plaintext_on_disk(server: Server) -> None:
    for path in server.data_dir.rglob("*"):
        if path.is_file() and path.stat().st_size < 512 * 1024 * 1024:
            assert MARKER not in path.read_bytes(), f"plaintext found in {path}"


MODES: dict[str, dict[str, str]] = {
    "SSE-S3": {"ServerSideEncryption": "AES256"},
    "SSE-KMS": {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": KMS_KEY},
}


@pytest.mark.parametrize("mode", ["SSE-S3", "SSE-KMS", "SSE-C"])
def test_put_get_ranges_and_head(sse_server: Server, s3: Any, mode: str) -> None:
    bucket = f"sse-{mode.lower()}"
    s3.create_bucket(Bucket=bucket)
    write = _customer() if mode == "SSE-C" else MODES[mode]
    read = _customer() if mode == "SSE-C" else {}
    body = _body(700 * 1024 + 11)  # several frames and (at 256 KiB) several chunks
    put = s3.put_object(Bucket=bucket, Key="k", Body=body, **write)
    head = s3.head_object(Bucket=bucket, Key="k", **read)
    assert head["ContentLength"] == len(body)
    if mode == "SSE-C":
        assert put["SSECustomerKeyMD5"] == head["SSECustomerKeyMD5"] == write["SSECustomerKeyMD5"]
    else:
        assert put["ServerSideEncryption"] == head["ServerSideEncryption"] == \
            write["ServerSideEncryption"]
    if mode == "SSE-KMS":
        assert head["SSEKMSKeyId"] == KMS_KEY
    assert s3.get_object(Bucket=bucket, Key="k", **read)["Body"].read() == body
    for first, last in ((0, 0), (65535, 65536), (100, 300_000), (len(body) - 10, len(body) - 1),
                        (262_143, 262_145)):
        got = s3.get_object(Bucket=bucket, Key="k", Range=f"bytes={first}-{last}", **read)
        assert got["Body"].read() == body[first:last + 1], (first, last)
    _no_plaintext_on_disk(sse_server)


def test_sse_c_needs_the_right_key(s3: Any) -> None:
    s3.create_bucket(Bucket="sse-c-keys")
    s3.put_object(Bucket="sse-c-keys", Key="k", Body=b"secret", **_customer())
    for attempt, code in (
        (lambda: s3.get_object(Bucket="sse-c-keys", Key="k"), "InvalidRequest"),
        (lambda: s3.get_object(Bucket="sse-c-keys", Key="k", **_customer(b"two")),
         "AccessDenied"),
        (lambda: s3.head_object(Bucket="sse-c-keys", Key="k"), "400"),
    ):
        with pytest.raises(ClientError) as refused:
            attempt()
        assert refused.value.response["Error"]["Code"] == code
    bad_md5 = {**_customer(), "SSECustomerKeyMD5": base64.b64encode(b"x" * 16).decode()}
    with pytest.raises(ClientError) as mismatch:
        s3.put_object(Bucket="sse-c-keys", Key="k2", Body=b"x", **bad_md5)
    assert mismatch.value.response["Error"]["Code"] == "InvalidArgument"


def test_an_unknown_kms_key_is_refused_and_stores_nothing(s3: Any) -> None:
    s3.create_bucket(Bucket="sse-unknown")
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket="sse-unknown", Key="k", Body=b"x", ServerSideEncryption="aws:kms",
                      SSEKMSKeyId="no-such-key")
    assert refused.value.response["Error"]["Code"] == "KMS.NotFoundException"
    assert s3.list_objects_v2(Bucket="sse-unknown").get("Contents", []) == []


def test_bucket_default_encryption(sse_server: Server, s3: Any) -> None:
    s3.create_bucket(Bucket="sse-default")
    with pytest.raises(ClientError) as none:
        s3.get_bucket_encryption(Bucket="sse-default")
    assert none.value.response["Error"]["Code"] == \
        "ServerSideEncryptionConfigurationNotFoundError"
    s3.put_bucket_encryption(Bucket="sse-default", ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                                          "KMSMasterKeyID": KMS_KEY}}]})
    rule = s3.get_bucket_encryption(Bucket="sse-default")[
        "ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]
    assert rule == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KMS_KEY}
    body = _body(100_000)
    s3.put_object(Bucket="sse-default", Key="k", Body=body)
    head = s3.head_object(Bucket="sse-default", Key="k")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == KMS_KEY
    assert s3.get_object(Bucket="sse-default", Key="k")["Body"].read() == body
    s3.delete_bucket_encryption(Bucket="sse-default")
    s3.put_object(Bucket="sse-default", Key="plain", Body=b"x")
    assert "ServerSideEncryption" not in s3.head_object(Bucket="sse-default", Key="plain")
    _no_plaintext_on_disk(sse_server)


def test_rotation_keeps_every_object_readable(sse_server: Server, s3: Any) -> None:
    s3.create_bucket(Bucket="sse-rotation")
    before = _body(50_000)
    s3.put_object(Bucket="sse-rotation", Key="before", Body=before,
                  ServerSideEncryption="aws:kms", SSEKMSKeyId=KMS_KEY)
    rotated = subprocess.run(
        [sys.executable, "-m", "infra.run.cli", "keys", "rotate", KMS_KEY, "--data-dir",
         str(sse_server.data_dir)], env=server_env(), capture_output=True, text=True,
        timeout=60)
    assert rotated.returncode == 0, rotated.stderr
    after = _body(50_000)
    s3.put_object(Bucket="sse-rotation", Key="after", Body=after,
                  ServerSideEncryption="aws:kms", SSEKMSKeyId=KMS_KEY)
    assert s3.get_object(Bucket="sse-rotation", Key="before")["Body"].read() == before
    assert s3.get_object(Bucket="sse-rotation", Key="after")["Body"].read() == after
    # in the background, the older object's data key is wrapped by the new key version
    wait_until(lambda: rewrapped(sse_server, "before"), 30, "the data key was not re-wrapped")
    event = rewrapped(sse_server, "before")[0]
    assert event["data"]["wrapped"]["version"] == 2 and event["actor"] == "strata:key-rotation"
    assert not rewrapped(sse_server, "after")  # already wrapped by the current version
    assert s3.get_object(Bucket="sse-rotation", Key="before")["Body"].read() == before


def test_a_missing_key_file_is_a_clear_error_never_wrong_bytes(tmp_path: Path) -> None:
    server = tls_server_at(tmp_path)
    server.start()
    try:
        s3 = make_client(server)
        s3.create_bucket(Bucket="lost")
        s3.put_object(Bucket="lost", Key="k", Body=b"x" * 1000, ServerSideEncryption="AES256")
        kek = server.data_dir / "keys" / "kek" / "strata-s3.json"
        kek.rename(kek.with_suffix(".moved"))
        with pytest.raises(ClientError) as lost:
            s3.get_object(Bucket="lost", Key="k")["Body"].read()
        assert lost.value.response["Error"]["Code"] == "KMS.NotFoundException"
        kek.with_suffix(".moved").rename(kek)
        assert s3.get_object(Bucket="lost", Key="k")["Body"].read() == b"x" * 1000
    finally:
        server.stop()


PART = 5 * 1024 * 1024


@pytest.mark.parametrize("mode", ["SSE-S3", "SSE-C"])
def test_multipart_parts_are_sealed_with_the_upload_s_key(sse_server: Server, s3: Any,
                                                          mode: str) -> None:
    bucket = f"sse-mp-{mode.lower()}"
    s3.create_bucket(Bucket=bucket)
    write = _customer() if mode == "SSE-C" else MODES[mode]
    per_part = _customer() if mode == "SSE-C" else {}
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", **write)["UploadId"]
    parts = [_body(PART), _body(300_001)]
    done = [{"PartNumber": n, "ETag": s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload,
                                                    PartNumber=n, Body=body,
                                                    **per_part)["ETag"]}
            for n, body in enumerate(parts, start=1)]
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload,
                                 MultipartUpload={"Parts": done}, **per_part)
    whole = b"".join(parts)
    assert s3.get_object(Bucket=bucket, Key="mp", **per_part)["Body"].read() == whole
    ranged = s3.get_object(Bucket=bucket, Key="mp", Range=f"bytes={PART - 5}-{PART + 5}",
                           **per_part)["Body"].read()
    assert ranged == whole[PART - 5:PART + 6]
    assert s3.get_object(Bucket=bucket, Key="mp", PartNumber=2, **per_part)["Body"].read() \
        == parts[1]
    _no_plaintext_on_disk(sse_server)


SIDES = {"plain": ({}, {}), "SSE-S3": (MODES["SSE-S3"], {}), "SSE-KMS": (MODES["SSE-KMS"], {}),
         "SSE-C": (_customer(b"copy"), _customer(b"copy"))}


def _as_copy_source(read: dict[str, str]) -> dict[str, str]:
    return {f"CopySource{name}": value for name, value in read.items()}


@pytest.mark.parametrize("source", list(SIDES))
def test_copy_every_source_to_every_destination(s3: Any, source: str) -> None:
    bucket = f"sse-copy-{source.lower()}"
    s3.create_bucket(Bucket=bucket)
    write, read = SIDES[source]
    body = _body(200_000, marked=False)  # copies to a plaintext destination
    s3.put_object(Bucket=bucket, Key="src", Body=body, **write)
    for destination, (dest_write, dest_read) in SIDES.items():
        key = f"to-{destination}"
        s3.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": "src"},
                       **_as_copy_source(read), **dest_write)
        head = s3.head_object(Bucket=bucket, Key=key, **dest_read)
        if destination in ("SSE-S3", "SSE-KMS"):
            assert head["ServerSideEncryption"] == dest_write["ServerSideEncryption"]
        elif destination == "plain":
            assert "ServerSideEncryption" not in head and "SSECustomerKeyMD5" not in head
        got = s3.get_object(Bucket=bucket, Key=key, **dest_read)["Body"].read()
        assert got == body, (source, destination)


def test_upload_part_copy_reencrypts(s3: Any) -> None:
    s3.create_bucket(Bucket="sse-part-copy")
    body = _body(PART + 1000)
    s3.put_object(Bucket="sse-part-copy", Key="src", Body=body, **_customer(b"src"))
    upload = s3.create_multipart_upload(Bucket="sse-part-copy", Key="dst",
                                        ServerSideEncryption="AES256")["UploadId"]
    part = s3.upload_part_copy(Bucket="sse-part-copy", Key="dst", UploadId=upload, PartNumber=1,
                               CopySource={"Bucket": "sse-part-copy", "Key": "src"},
                               **_as_copy_source(_customer(b"src")))
    s3.complete_multipart_upload(Bucket="sse-part-copy", Key="dst", UploadId=upload,
                                 MultipartUpload={"Parts": [
                                     {"PartNumber": 1,
                                      "ETag": part["CopyPartResult"]["ETag"]}]})
    assert s3.get_object(Bucket="sse-part-copy", Key="dst")["Body"].read() == body


def test_the_native_door_reads_and_writes_encrypted_objects(sse_server: Server, s3: Any) -> None:
    import httpx

    api, auth, verify = sse_server.api, sse_server.token(), sse_server.http_verify
    s3.create_bucket(Bucket="sse-native")
    s3.put_bucket_encryption(Bucket="sse-native", ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    body = _body(90_000)
    uploaded = httpx.post(f"{api}/buckets/sse-native/upload", params={"key": "n"}, content=body,
                          headers=auth, verify=verify)
    assert uploaded.status_code == 201, uploaded.text
    assert s3.head_object(Bucket="sse-native", Key="n")["ServerSideEncryption"] == "AES256"
    assert httpx.get(f"{api}/buckets/sse-native/objects/n", headers=auth,
                     verify=verify).content == body
    s3.put_object(Bucket="sse-native", Key="c", Body=b"x", **_customer())
    refused = httpx.get(f"{api}/buckets/sse-native/objects/c", headers=auth, verify=verify)
    assert refused.status_code == 400 and "S3 door" in refused.json()["message"]
    _no_plaintext_on_disk(sse_server)


def test_no_tenant_learns_what_another_stored(sse_server: Server, s3: Any) -> None:
    """The dedup/encryption decision (docs/security.md): sealed chunks are named by their
    ciphertext (a fresh key and nonces each time), so encrypted content is never shared;
    plaintext chunks are shared, but nothing another tenant sees depends on it."""
    import httpx

    from tests.s3.conftest import create_user_keys

    access_key, secret = create_user_keys(sse_server, "tenant-b")
    tenant_b = make_client(sse_server, access_key, secret)
    s3.create_bucket(Bucket="tenant-a")
    tenant_b.create_bucket(Bucket="tenant-b")
    known, fresh = _body(150_000, marked=False), _body(150_000, marked=False)
    s3.put_object(Bucket="tenant-a", Key="plain", Body=known)
    s3.put_object(Bucket="tenant-a", Key="sealed", Body=known, ServerSideEncryption="AES256")
    answers = []
    for name, body in (("known", known), ("fresh", fresh)):
        answer = tenant_b.put_object(Bucket="tenant-b", Key=name, Body=body)
        headers = answer["ResponseMetadata"]["HTTPHeaders"]
        answers.append((answer["ResponseMetadata"]["HTTPStatusCode"],
                        sorted(h for h in headers if h not in ("date", "x-request-id",
                                                               "x-amz-request-id"))))
        tenant_b.put_object(Bucket="tenant-b", Key=f"{name}-sealed", Body=body,
                            ServerSideEncryption="AES256")
    assert answers[0] == answers[1]  # the same answer whether or not another stored it
    with pytest.raises(ClientError):
        tenant_b.get_object(Bucket="tenant-a", Key="plain")

    def chunks(bucket: str, key: str) -> set[str]:
        history = httpx.get(f"{sse_server.api}/buckets/{bucket}/history/{key}",
                            headers=sse_server.token(), verify=sse_server.http_verify).json()
        return {c["digest"] for r in history["history"]
                for c in r["data"].get("version", {}).get("chunks", [])}

    assert chunks("tenant-a", "sealed").isdisjoint(chunks("tenant-b", "known-sealed"))
    assert chunks("tenant-a", "plain") == chunks("tenant-b", "known")  # shared, unseen


def test_a_kill_during_rotation_loses_nothing(tmp_path: Path) -> None:
    LocalKeyService(tmp_path / "data" / "keys").create(KMS_KEY)
    server = tls_server_at(tmp_path, STRATA_KEY_REWRAP_SECONDS="0.2")
    server.start()
    try:
        s3 = make_client(server)
        s3.create_bucket(Bucket="many")
        bodies = {f"k{i:03d}": os.urandom(64) for i in range(300)}
        for name, body in bodies.items():
            s3.put_object(Bucket="many", Key=name, Body=body, ServerSideEncryption="aws:kms",
                          SSEKMSKeyId=KMS_KEY)
        LocalKeyService(server.data_dir / "keys").rotate(KMS_KEY)
        wait_until(lambda: rewrapped(server), 30, "no data key was re-wrapped")
        server.kill()  # most likely part way: 300 keys to re-wrap, one commit each
        server.start()
        wait_until(lambda: len({e["key"] for e in rewrapped(server)}) == len(bodies), 60,
                   "the re-wrapping did not finish after the restart")
        for name, body in bodies.items():
            assert s3.get_object(Bucket="many", Key=name)["Body"].read() == body
    finally:
        server.stop()


def test_object_attributes_of_an_sse_c_object_need_its_key(s3: Any) -> None:
    s3.create_bucket(Bucket="sse-attributes")
    s3.put_object(Bucket="sse-attributes", Key="k", Body=b"x" * 10, **_customer())
    with pytest.raises(ClientError) as refused:
        s3.get_object_attributes(Bucket="sse-attributes", Key="k", ObjectAttributes=["ObjectSize"])
    assert refused.value.response["Error"]["Code"] == "InvalidRequest"
    got = s3.get_object_attributes(Bucket="sse-attributes", Key="k",
                                   ObjectAttributes=["ObjectSize"], **_customer())
    assert got["ObjectSize"] == 10
