"""What a request stores is sent back as headers later: it is checked first (issue 19,
item 13)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.conftest import Server, free_port, server_env
from tests.s3.conftest import make_client
from tests.security.conftest import fresh_bucket


@pytest.mark.parametrize("field, value", [
    ("x-meta-a b", "fine"),
    ("x-meta-", "empty name"),
    ("x-meta-ok", "line\r\nx-injected: 1"),
    ("x-meta-ok", "nul\x00"),
    ("x-meta-ok", "beyond latin-1: \u65e5\u672c"),
])
def test_a_native_upload_with_unsendable_metadata_stores_nothing(
    live: Server, field: str, value: str
) -> None:
    bucket = fresh_bucket()
    h = live.token()
    httpx.put(f"{live.api}/buckets/{bucket}", headers=h).raise_for_status()
    got = httpx.post(f"{live.api}/buckets/{bucket}/upload", headers=h,
                     data={"key": "doc.txt", field: value}, files={"file": ("doc.txt", b"x")})
    assert got.status_code == 400 and got.json()["error"] == "InvalidArgument", got.text
    assert httpx.get(f"{live.api}/buckets/{bucket}/list", headers=h).json()["objects"] == []
    # A well-formed upload is read back whole, metadata and all.
    fine = httpx.post(f"{live.api}/buckets/{bucket}/upload", headers=h,
                      data={"key": "doc.txt", "x-meta-colour": "blue"},
                      files={"file": ("doc.txt", b"x")})
    assert fine.status_code == 201
    read = httpx.get(f"{live.api}/buckets/{bucket}/doc.txt", headers=h)
    assert read.content == b"x" and read.headers["x-meta-colour"] == "blue"


def test_oversized_representation_headers_are_refused_on_every_write_path(live: Server) -> None:
    s3 = make_client(live)
    bucket = fresh_bucket()
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="src", Body=b"x")
    long = "attachment; filename=" + "a" * 3000
    attempts = [
        lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x", ContentDisposition=long),
        lambda: s3.copy_object(Bucket=bucket, Key="k", CopySource=f"{bucket}/src",
                               MetadataDirective="REPLACE", ContentDisposition=long),
        lambda: s3.create_multipart_upload(Bucket=bucket, Key="k", ContentType="t/" + "a" * 3000),
    ]
    for attempt in attempts:
        with pytest.raises(ClientError) as refused:
            attempt()
        assert refused.value.response["Error"]["Code"] == "InvalidArgument"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["src"]
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_a_long_user_agent_is_cut_before_it_is_stored(live: Server) -> None:
    bucket = fresh_bucket()
    h = live.token()
    httpx.put(f"{live.api}/buckets/{bucket}", headers=h).raise_for_status()
    agent = "agent/" + "a" * 15_000  # under the 16 KiB a header may have
    httpx.post(f"{live.api}/buckets/{bucket}/upload", params={"key": "k"}, content=b"x",
               headers={**h, "user-agent": agent}).raise_for_status()
    record = httpx.get(f"{live.api}/buckets/{bucket}/history/k", headers=h).json()["history"][-1]
    assert record["user_agent"] == agent[:512]


def test_a_flood_of_refusals_does_not_push_history_out_of_the_denied_log(
    tmp_path: Path,
) -> None:
    srv = Server(tmp_path / "data", free_port(), free_port(),
                 server_env(STRATA_ACCESS_LOG_MAX_BYTES=str(256 * 1024)))
    srv.start()
    try:
        first = httpx.get(f"{srv.api}/buckets", headers={"user-agent": "the-first-one"},
                          params={"x": "1"})
        assert first.status_code == 401
        make_client(srv).create_bucket(Bucket="private")
        with httpx.Client() as client:
            for _ in range(600):  # 600 refusals with 15 KB user agents: 9 MB
                refused = client.get(f"{srv.s3}/private/k", headers={"user-agent": "f" * 15_000})
                assert refused.status_code == 403
        denied = httpx.get(f"{srv.api}/audit/denied", params={"limit": "1000"},
                           headers=srv.token()).json()["denied"]
    finally:
        srv.stop()
    agents = [entry.get("user_agent") for entry in denied]
    assert "the-first-one" in agents
    assert all(len(a or "") <= 512 for a in agents)
    suppressed = [entry for entry in denied if entry["type"] == "Suppressed"]
    assert suppressed and sum(entry["count"] for entry in suppressed) > 0
