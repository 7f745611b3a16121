"""What one UploadPart costs in the store as an upload grows (issue 19, item 16).

Records N parts of one upload through the application service (no HTTP, no bytes:
the part records only) and prints the time per part at the start and the end of the
upload, and the bytes of snapshots written. The peer in the same run is the cost of a
part at part 1: a flat curve has a ratio near 1.
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from domain.access import canned_acl
from domain.application import ObjectStore
from domain.records import RequestMeta
from domain.uploads import ObjectTemplate, UploadedPart
from infra.settings import Settings

META: RequestMeta = {"actor": "bench", "request_id": "", "source": "", "user_agent": ""}
WINDOW = 100  # parts timed together at each end


def _part(number: int) -> UploadedPart:
    digest = f"{number:064x}"
    return {"number": number, "etag": f"{number:032x}", "size": 5 * 1024 * 1024,
            "chunks": [{"digest": digest, "size": 5 * 1024 * 1024}],
            "last_modified": datetime.now(UTC).isoformat(), "checksum": {}}


def measure(parts: int, directory: Path) -> tuple[float, float, int]:
    settings = Settings(data_dir=directory)  # the embedded store's own configuration
    db = Path(settings.event_store_env()["SQLITE_DBNAME"])
    store = ObjectStore(settings.event_store_env())
    now = datetime.now(UTC)
    store.create_bucket("bench", "root", META, now)
    template: ObjectTemplate = {"owner": "root", "content_type": "", "headers": {},
                                "user_metadata": {}, "acl": canned_acl("private", "root"),
                                "checksum_algorithm": ""}
    store.create_multipart_upload("bench", "big", "upload-1", template, META, now)
    timings = []
    for number in range(1, parts + 1):
        started = time.perf_counter()
        store.upload_part("bench", "big", "upload-1", _part(number), META, datetime.now(UTC))
        timings.append(time.perf_counter() - started)
        if number % 1000 == 0:
            print(f"  {number:,} parts recorded", flush=True)
    store.close()
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        snapshot_bytes = 0
        if "stored_snapshots" in tables:
            snapshot_bytes = conn.execute("SELECT COALESCE(SUM(LENGTH(state)), 0) "
                                          "FROM stored_snapshots").fetchone()[0]
    first = sum(timings[:WINDOW]) / WINDOW
    last = sum(timings[-WINDOW:]) / WINDOW
    return first, last, snapshot_bytes


def main() -> None:
    parts = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    with tempfile.TemporaryDirectory() as scratch:
        first, last, snapshots = measure(parts, Path(scratch))
    print(f"UploadPart in the store, {parts:,} parts: first {WINDOW} {first * 1000:.2f} ms "
          f"a part, last {WINDOW} {last * 1000:.2f} ms a part (ratio {last / first:.2f}x); "
          f"snapshots {snapshots:,} bytes")


if __name__ == "__main__":
    main()
