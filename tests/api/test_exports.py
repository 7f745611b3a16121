"""The `strata` commands over a real server: events tail, restore, Parquet inventory and
audit exports (read back with pyarrow), and the scheduled daily inventory."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from infra.run.system import open_system
from infra.settings import Settings
from tests.conftest import META, Server, server_env
from workers.inventory import daily_key


def strata(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infra.run.cli", *args, "--url", server.api],
        env=server_env(), capture_output=True, text=True, timeout=60,
    )


def _history(server: Server, bucket: str) -> str:
    """A versioned bucket with overwrites and a delete marker; an instant in between."""
    auth = server.token()
    api = server.api
    assert httpx.put(f"{api}/buckets/{bucket}", headers=auth).status_code == 201
    httpx.put(f"{api}/buckets/{bucket}/versioning", json={"status": "Enabled"}, headers=auth)
    for key in ("a", "b", "c/d"):
        httpx.post(f"{api}/buckets/{bucket}/upload?key={key}", content=key.encode() * 10,
                   headers=auth)
    time.sleep(0.01)
    moment = datetime.now(UTC).isoformat()
    time.sleep(0.01)
    httpx.post(f"{api}/buckets/{bucket}/upload?key=a", content=b"second a", headers=auth)
    httpx.delete(f"{api}/buckets/{bucket}/b", headers=auth)
    return moment


def test_inventory_export_reads_back_and_matches_the_listing(
    server: Server, tmp_path: Path
) -> None:
    moment = _history(server, "inv")
    tagged = httpx.put(f"{server.api}/buckets/inv/tags/c/d", json={"tags": {"team": "blue"}},
                       headers=server.token())
    assert tagged.status_code == 200, tagged.text
    out = tmp_path / "inv.parquet"
    done = strata(server, "inventory", "export", "inv", "--to", str(out))
    assert done.returncode == 0, done.stderr
    assert "5/5" in done.stderr  # the progress bar reached the bucket's version count
    table = pq.read_table(out)
    rows = table.to_pylist()
    listing = httpx.get(f"{server.api}/buckets/inv/list", params={"versions": "true"},
                        headers=server.token()).json()["objects"]
    assert [(r["key"], r["version_id"], r["is_latest"], r["is_delete_marker"], r["size"])
            for r in rows] == [(o["key"], o["version_id"], o["is_latest"],
                                o["is_delete_marker"], o["size"]) for o in listing]
    assert {r["bucket"] for r in rows} == {"inv"}
    a_latest = next(r for r in rows if r["key"] == "a" and r["is_latest"])
    assert len(a_latest["checksum"]) == 64 and a_latest["replica_count"] == 1
    assert a_latest["tags"] == []
    assert next(r for r in rows if r["key"] == "c/d")["tags"] == [("team", "blue")]
    assert table.schema.field("last_modified").type.tz == "UTC"

    then = tmp_path / "then.parquet"
    assert strata(server, "inventory", "export", "inv", "--as-of", moment,
                  "--to", str(then)).returncode == 0
    as_of = httpx.get(f"{server.api}/buckets/inv/list", params={"as_of": moment},
                      headers=server.token()).json()["objects"]
    assert [r["key"] for r in pq.read_table(then).to_pylist()] == [o["key"] for o in as_of] == [
        "a", "b", "c/d"]


def test_inventory_export_into_a_bucket(server: Server) -> None:
    _history(server, "src")
    httpx.put(f"{server.api}/buckets/reports", headers=server.token())
    done = strata(server, "inventory", "export", "src", "--to-bucket", "reports")
    assert done.returncode == 0, done.stderr
    listed = httpx.get(f"{server.api}/buckets/reports/list", headers=server.token()).json()
    [obj] = listed["objects"]
    assert obj["key"].startswith("inventory/src/") and obj["content_type"].endswith("parquet")
    body = httpx.get(f"{server.api}/buckets/reports/objects/{obj['key']}",
                     headers=server.token()).content
    assert pq.read_table(pa.BufferReader(body)).num_rows == 5
    missing = strata(server, "inventory", "export", "src", "--to-bucket", "nowhere")
    assert missing.returncode == 1 and "NoSuchBucket" in missing.stderr


def test_audit_export_is_partitioned_by_day(server: Server, tmp_path: Path) -> None:
    _history(server, "aud")
    out = tmp_path / "audit"
    done = strata(server, "audit", "export", "--to", str(out), "--bucket", "aud")
    assert done.returncode == 0, done.stderr
    today = datetime.now(UTC).date().isoformat()
    assert [p.name for p in out.iterdir()] == [f"day={today}"]
    table = ds.dataset(out, format="parquet", partitioning="hive").to_table()
    audit = httpx.get(f"{server.api}/audit", params={"bucket": "aud", "limit": 1000},
                      headers=server.token()).json()["events"]
    assert table.column("event_id").to_pylist() == [e["event_id"] for e in audit]
    data = orjson.loads(table.column("data")[1].as_py())
    assert data["status"] == "Enabled"


def test_events_tail_prints_every_event_as_json_lines(server: Server) -> None:
    _history(server, "tail")
    done = strata(server, "events", "tail", "--bucket", "tail", "--from", "0", "--no-follow")
    assert done.returncode == 0, done.stderr
    records = [orjson.loads(line) for line in done.stdout.splitlines()]
    assert [r["name"] for r in records][:2] == ["strata:BucketCreated",
                                              "strata:BucketVersioningChanged"]
    assert records[-1]["name"] == "s3:ObjectRemoved:DeleteMarkerCreated"
    assert all(r["bucket"] == "tail" for r in records)


def test_restore_command_reports_what_it_changed(server: Server) -> None:
    moment = _history(server, "back")
    listed = httpx.get(f"{server.api}/buckets/back/list", params={"versions": "true"},
                       headers=server.token()).json()["objects"]
    dry = strata(server, "restore", "back", "--as-of", moment, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would be restored 2, would be deleted 0, unchanged 1" in dry.stderr
    assert "nothing was changed" in dry.stderr
    assert httpx.get(f"{server.api}/buckets/back/list", params={"versions": "true"},
                     headers=server.token()).json()["objects"] == listed
    done = strata(server, "restore", "back", "--as-of", moment)
    assert done.returncode == 0, done.stderr
    assert "restored 2, deleted 0, unchanged 1" in done.stderr
    assert sorted(done.stdout.split()) == sorted(["restored", "a", "restored", "b"])


def test_commands_explain_what_is_wrong(server: Server, tmp_path: Path) -> None:
    bad_time = strata(server, "restore", "nope", "--as-of", "2026-01-01T00:00Z")
    assert bad_time.returncode == 1 and "NoSuchBucket" in bad_time.stderr
    down = subprocess.run([sys.executable, "-m", "infra.run.cli", "events", "tail", "--url",
                           "http://127.0.0.1:9", "--no-follow"], env=server_env(),
                          capture_output=True, text=True, timeout=60)
    assert down.returncode == 1 and "is it running?" in down.stderr
    env = {k: v for k, v in server_env().items() if not k.startswith("STRATA_ROOT")}
    nocreds = subprocess.run([sys.executable, "-m", "infra.run.cli", "events", "tail",
                              "--data-dir", str(tmp_path)], env=env, capture_output=True,
                             text=True, timeout=60)
    assert nocreds.returncode == 2 and "--access-key" in nocreds.stderr


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_the_daily_inventory_lands_once_a_day(settings: Settings) -> None:
    system = open_system(settings)
    system.start()
    try:
        store: Any = system.store
        now = datetime.now(UTC)
        store.create_bucket("photos", "root", META, now)
        store.create_bucket("reports", "root", META, now)
        store.configure_inventory("photos", {"destination": "reports", "prefix": "inv/"},
                                  META, now)
        made = system.inventory_schedule.run_once()
        key = daily_key("inv/", "photos", now)
        assert made == [("reports", key)]
        assert system.inventory_schedule.run_once() == []  # once a day
        version = store.get_object("reports", key).version
        assert version["user_metadata"] == {"source-bucket": "photos", "rows": "0"}
        tomorrow = daily_key("inv/", "photos", now + timedelta(days=1))
        assert tomorrow != key
    finally:
        system.close()
