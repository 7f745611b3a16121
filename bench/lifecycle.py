"""A lifecycle pass over a bucket of a million keys (issue 23): how long the worker
takes to evaluate its rules when nothing is due, and when 1,000 of them (0.1%) are due and
expire through the ordinary commands, beside the floor any pass pays: one scan of the
same listing rows.

Run: .venv/bin/python -m bench.lifecycle [--keys 1000000]
Appends its table to docs/benchmarks.md when that file exists.

The keys are written straight through the store, as bench.metadata writes them.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from api.operations import delete_marker
from bench.metadata import BUCKET, write_log
from bench.peers import STRATA_AK, STRATA_SK
from bench.report import append_section
from domain.lifecycle import LifecycleRule
from infra.run.rebuild import rebuild_views
from infra.run.system import SYSTEM_META, System, open_system
from infra.settings import Settings
from projections.base import prefix_end
from workers.lifecycle import ACTOR, LifecycleReport, LifecycleWorker


def _worker(system: System, clock: Callable[[], datetime]) -> LifecycleWorker:
    return LifecycleWorker(system.store, system.views, system.runner.wait_for, clock, 86400,
                           lambda now: delete_marker(ACTOR, {"owner": ACTOR, "grants": []},
                                                     now))


def _floor(system: System) -> tuple[int, float]:
    """One scan of the bucket's version rows, each decoded: what any pass reads."""
    ns = b"V/" + BUCKET.encode() + b"/"
    started = time.monotonic()
    rows = 0
    for _, raw in system.views.scan(ns, prefix_end(ns)):
        orjson.loads(raw)
        rows += 1
    return rows, time.monotonic() - started


def _pass(worker: LifecycleWorker, what: str) -> LifecycleReport:
    print(f"lifecycle pass: {what} ...", flush=True)
    report = worker.run_once()
    print(f"  {report.keys:,} keys in {report.seconds:.1f} s, {report.expired:,} expired",
          flush=True)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="strata-lifecycle-") as tmp:
        settings = Settings(data_dir=Path(tmp) / "strata-data", root_access_key=STRATA_AK,
                            root_secret_key=STRATA_SK)
        print(f"writing {args.keys:,} keys to the event log ...", flush=True)
        write_log(settings, args.keys)
        print("building the views from the log ...", flush=True)
        rebuild_views(settings)
        system = open_system(settings)
        system.runner.start()
        try:
            now = datetime.now(UTC)
            not_due: list[LifecycleRule] = [LifecycleRule(
                id="everything-after-30-days", enabled=True, prefix="", tags={},
                expiration_days=30)]
            system.store.configure_lifecycle(BUCKET, not_due, SYSTEM_META, now)
            idle = _pass(_worker(system, lambda: now), "a rule on every key, none due")
            rows, floor_seconds = _floor(system)
            print(f"floor: scanned {rows:,} rows in {floor_seconds:.1f} s", flush=True)
            some_due = [*not_due, LifecycleRule(id="one-dir-after-1-day", enabled=True,
                                                prefix="dir000/", tags={}, expiration_days=1)]
            system.store.configure_lifecycle(BUCKET, some_due, SYSTEM_META, now)
            later = now + timedelta(days=3)
            busy = _pass(_worker(system, lambda: later), "1,000 keys due")
            stats_seconds = time.monotonic()
            system.runner.wait_for(system.store.current_position())
            stats_seconds = time.monotonic() - stats_seconds
        finally:
            system.close()
    lines = [
        f"Bucket of {args.keys:,} keys (unversioned, 4 KiB each), read from the views "
        "in-process by the lifecycle worker's pass (`LifecycleWorker.run_once`).",
        "",
        "| pass | keys | expired | seconds | keys/s | vs. floor |",
        "|---|---|---|---|---|---|",
        f"| floor: one scan of the listing rows | {rows:,} | - | {floor_seconds:.1f} | "
        f"{rows / floor_seconds:,.0f} | 1.0x |",
        f"| a rule on every key, none due | {idle.keys:,} | 0 | {idle.seconds:.1f} | "
        f"{idle.keys / idle.seconds:,.0f} | {idle.seconds / floor_seconds:.1f}x |",
        f"| 1,000 keys due (0.1%, one prefix) | {busy.keys:,} | {busy.expired:,} | "
        f"{busy.seconds:.1f} | {busy.keys / busy.seconds:,.0f} | "
        f"{busy.seconds / floor_seconds:.1f}x |",
        "",
        f"The views took {stats_seconds:.1f} s more to apply the {busy.expired:,} removals "
        "(the bucket's stats fall with them).",
    ]
    print("\n".join(lines))
    append_section("A lifecycle pass over a million keys", "\n".join(lines))


if __name__ == "__main__":
    main()
