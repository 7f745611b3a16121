"""The denied-request log stays within its size and keeps the newest entries."""

from __future__ import annotations

from pathlib import Path

from infra.access_log import DeniedLog


def test_the_log_rotates_and_keeps_the_newest_entries(tmp_path: Path) -> None:
    log = DeniedLog(tmp_path, max_bytes=2000)
    for n in range(200):
        log.record({"n": n, "actor": "AKEXAMPLE", "message": "Access Denied"})
    sizes = [p.stat().st_size for p in tmp_path.iterdir()]
    assert len(sizes) == 2 and all(size <= 2000 for size in sizes)
    kept = [e["n"] for e in log.entries()]
    assert kept[-1] == 199 and kept == list(range(kept[0], 200))
    reopened = DeniedLog(tmp_path, max_bytes=2000)
    reopened.record({"n": 200})
    assert [e["n"] for e in reopened.entries()][-2:] == [199, 200]
