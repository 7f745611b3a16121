"""The denied-request log stays within its size and keeps the newest entries."""

from __future__ import annotations

from pathlib import Path

from infra.access_log import BURST, DeniedLog


def test_the_log_rotates_and_keeps_the_newest_entries(tmp_path: Path) -> None:
    log = DeniedLog(tmp_path, max_bytes=2000)
    for n in range(200):  # from many sources: none runs out of its budget
        log.record({"n": n, "actor": "AKEXAMPLE", "message": "Access Denied",
                    "source": f"10.0.{n // 250}.{n % 250}"})
    sizes = [p.stat().st_size for p in tmp_path.iterdir()]
    assert len(sizes) == 2 and all(size <= 2000 for size in sizes)
    kept = [e["n"] for e in log.entries()]
    assert kept[-1] == 199 and kept == list(range(kept[0], 200))
    reopened = DeniedLog(tmp_path, max_bytes=2000)
    reopened.record({"n": 200})
    assert [e["n"] for e in reopened.entries()][-2:] == [199, 200]


def test_a_flood_from_one_source_is_counted_not_logged(tmp_path: Path) -> None:
    now = [0.0]
    log = DeniedLog(tmp_path, max_bytes=1_000_000, clock=lambda: now[0])
    log.record({"n": -1, "time": "t", "source": "10.0.0.1"})  # someone else, earlier
    for n in range(BURST + 50):
        log.record({"n": n, "time": "t", "source": "10.9.9.9"})
    assert len(list(log.entries())) == 1 + BURST
    now[0] += 1.0  # RATE more may be logged a second later, after a summary
    log.record({"n": "later", "time": "t", "source": "10.9.9.9"})
    entries = list(log.entries())
    assert entries[0]["n"] == -1
    assert entries[-2]["type"] == "Suppressed" and entries[-2]["count"] == 50
    assert entries[-1]["n"] == "later"
