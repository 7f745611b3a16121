"""Multipart uploads: a part costs the same however many came before, and an abandoned
upload is aborted after its bucket's expiry (issue 19, item 16)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from domain.access import canned_acl
from infra.run.system import open_system
from infra.settings import Settings
from tests.conftest import META, Server, free_port, server_env
from tests.s3.conftest import make_client
from workers.upload_expiry import UploadExpirer


def _template() -> Any:
    return {"owner": "root", "content_type": "", "headers": {}, "user_metadata": {},
            "acl": canned_acl("private", "root"), "checksum_algorithm": ""}


def _part(number: int) -> Any:
    return {"number": number, "etag": f"{number:032x}", "size": 1, "last_modified": "",
            "chunks": [{"digest": f"{number:064x}", "size": 1}], "checksum": {}}


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_parts_are_not_snapshotted_and_a_copy_shares_them(settings: Settings) -> None:
    system = open_system(settings)
    system.start()
    try:
        store: Any = system.store
        store.create_bucket("parts", "root", META, datetime.now(UTC))
        store.create_multipart_upload("parts", "k", "u1", _template(), META, datetime.now(UTC))
        for number in range(1, 200):
            store.upload_part("parts", "k", "u1", _part(number), META, datetime.now(UTC))
        upload = store.get_upload("parts", "k", "u1")
        assert sorted(upload.parts) == list(range(1, 200))
        snapshots = store.snapshots.get(upload.id) if store.snapshots else []
        assert list(snapshots) == []
        import copy

        copied = copy.deepcopy(upload)
        copied.add_part(_part(500), META, datetime.now(UTC))
        assert 500 not in upload.parts and 500 in copied.parts
        assert copied.parts[1] is upload.parts[1]  # records shared, never changed
    finally:
        system.close()


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_an_abandoned_upload_is_aborted_on_time_and_not_before(settings: Settings) -> None:
    system = open_system(settings)
    system.start()
    try:
        store: Any = system.store
        start = datetime.now(UTC)
        store.create_bucket("short", "root", META, start)
        store.create_bucket("default", "root", META, start)
        store.create_bucket("never", "root", META, start)
        store.set_bucket_upload_expiry("short", 3600, META, start)
        store.set_bucket_upload_expiry("never", 0, META, start)
        for bucket in ("short", "default", "never"):
            store.create_multipart_upload(bucket, "k", f"up-{bucket}", _template(), META, start)

        def expire_at(moment: datetime) -> list[tuple[str, str, str]]:
            return UploadExpirer(store, system.views, system.runner.wait_for,
                                 lambda: moment, 7 * 24 * 3600).run_once()

        assert expire_at(start + timedelta(minutes=59)) == []
        assert expire_at(start + timedelta(minutes=61)) == [("short", "k", "up-short")]
        assert expire_at(start + timedelta(days=6)) == []
        assert expire_at(start + timedelta(days=8)) == [("default", "k", "up-default")]
        assert expire_at(start + timedelta(days=800)) == []
    finally:
        system.close()


def test_the_expiry_is_a_bucket_setting_and_runs_by_itself(tmp_path: Path) -> None:
    srv = Server(tmp_path / "data", free_port(), free_port(),
                 server_env(STRATA_UPLOAD_EXPIRY_CHECK_SECONDS="0.2"))
    srv.start()
    try:
        s3 = make_client(srv)
        s3.create_bucket(Bucket="uploads")
        url = f"{srv.api}/buckets/uploads/upload-expiry"
        assert httpx.get(url, headers=srv.token()).json() == {
            "seconds": None, "effective_seconds": 7 * 24 * 3600}
        s3.create_multipart_upload(Bucket="uploads", Key="abandoned")
        assert httpx.put(url, json={"seconds": 1}, headers=srv.token()).json()["seconds"] == 1
        assert httpx.put(url, json={"seconds": "1"}, headers=srv.token()).status_code == 400
        deadline = time.monotonic() + 30
        while s3.list_multipart_uploads(Bucket="uploads").get("Uploads"):
            assert time.monotonic() < deadline, "the abandoned upload was never aborted"
            time.sleep(0.2)
        events = httpx.get(f"{srv.api}/audit", params={"bucket": "uploads"},
                           headers=srv.token()).json()["events"]
        aborted = [e for e in events if e["type"] == "MultipartUpload.Aborted"]
        assert [e["actor"] for e in aborted] == ["strata:upload-expiry"]
    finally:
        srv.stop()
