"""History at scale: as-of listing latency against live listing latency, in a bucket of
100,000 keys with a long history, and the memory a Parquet inventory export takes.

Run: .venv/bin/python -m bench.history [--keys 100000] [--pages 200]
Appends its table to docs/benchmarks.md when that file exists.

The history is written straight through the store with made-up clocks, a generation
an hour: every key created, every key overwritten, half deleted, a quarter created
again, every present key overwritten once more (about 5.5 events a key). Listing pages
(1000 keys, from a random key) are read from the RocksDB views in-process, so the
figures compare the two views' own costs, not HTTP's.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from api.operations import new_version
from bench.report import append_section
from domain.access import canned_acl
from domain.objects import ObjectKey
from domain.records import NULL_VERSION, Content, Version
from infra.run.rebuild import rebuild_views
from infra.run.system import ROOT_USER, SYSTEM_META, open_system
from infra.settings import Settings
from infra.views.rocksdb import RocksDBViewStore
from projections.object_listing import ListPage, list_objects
from projections.time_index import list_objects_as_of

BUCKET = "history"
START = datetime(2026, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def key_name(n: int) -> str:
    return f"dir{n % 100:02d}/object-{n:08d}.dat"


def _version(n: int, generation: int, moment: datetime) -> Version:
    tag = n * 10 + generation
    content: Content = {"size": 4096, "etag": f"{tag:032x}", "sha256": f"{tag:064x}",
                        "chunks": [{"digest": f"{tag:064x}", "size": 4096}]}
    version = new_version(content, ROOT_USER, canned_acl("private", ROOT_USER), moment,
                          "application/octet-stream", {}, {})
    return {**version, "version_id": NULL_VERSION}


def _marker(moment: datetime) -> Version:
    return {**_version(0, 0, moment), "is_delete_marker": True, "size": 0, "chunks": []}


def write_history(settings: Settings, keys: int) -> int:
    """Five generations, an hour apart; returns the number of events written."""
    system = open_system(settings)
    store = system.store
    store.create_bucket(BUCKET, ROOT_USER, SYSTEM_META, START - HOUR)
    aggregates: dict[int, ObjectKey] = {}
    events = 0

    def generation(g: int, chosen: Callable[[int], bool], change: Callable[[int], None]) -> None:
        nonlocal events
        batch = []
        for n in range(keys):
            if chosen(n):
                change(n)
                batch.append(aggregates[n])
            if len(batch) == 1000 or (n == keys - 1 and batch):
                events += sum(len(a.pending_events) for a in batch)
                store.save(*batch)
                batch = []
        print(f"  generation {g} written ({events:,} events so far)", flush=True)

    def put(g: int) -> Callable[[int], None]:
        def change(n: int) -> None:
            moment = START + g * HOUR + timedelta(microseconds=n)
            if n not in aggregates:
                aggregates[n] = ObjectKey.create(BUCKET, key_name(n), moment)
            aggregates[n].put_version(_version(n, g, moment), "Unversioned", SYSTEM_META, moment)
        return change

    def delete(n: int) -> None:
        moment = START + 2 * HOUR + timedelta(microseconds=n)
        aggregates[n].delete(None, "Unversioned", _marker(moment), SYSTEM_META, moment)

    present = set(range(keys))
    try:
        generation(0, lambda n: True, put(0))
        generation(1, lambda n: True, put(1))
        generation(2, lambda n: n % 2 == 0, delete)
        present -= {n for n in range(keys) if n % 2 == 0}
        generation(3, lambda n: n % 4 == 0, put(3))
        present |= {n for n in range(keys) if n % 4 == 0}
        generation(4, lambda n: n in present, put(4))
    finally:
        system.close()
    return events


def _latencies(page: Callable[[str], ListPage], keys: int, pages: int) -> list[float]:
    rng = random.Random(11)
    timings = []
    for _ in range(pages):
        after = key_name(rng.randrange(keys))
        started = time.perf_counter()
        result = page(after)
        timings.append((time.perf_counter() - started) * 1000)
        if not result.entries and not result.common_prefixes:
            raise RuntimeError(f"an empty page after {after!r}")
    return timings


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure_listings(settings: Settings, keys: int, pages: int) -> list[str]:
    views = RocksDBViewStore(settings.views_dir)
    rows = []
    try:
        cases: list[tuple[str, Callable[[str], ListPage]]] = [
            ("live listing", lambda after: list_objects(views, BUCKET, after=after))
        ]
        for g, label in ((0, "after the creates"), (2, "after the deletes"),
                         (4, "after the last overwrite")):
            moment = START + g * HOUR + timedelta(minutes=30)
            cases.append((f"as-of listing, {label}", lambda after, m=moment: list_objects_as_of(
                views, BUCKET, m, after=after)))
        live_p50 = 0.0
        for name, page in cases:
            values = _latencies(page, keys, pages)
            p50, p99 = statistics.median(values), percentile(values, 0.99)
            live_p50 = live_p50 or p50
            rows.append(f"| {name} | {p50:.1f} ms | {p99:.1f} ms | {p50 / live_p50:.2f}x |")
            print(rows[-1], flush=True)
    finally:
        views.close()
    return rows


def export_memory(data_dir: Path, out: Path) -> str:
    """Peak memory of a whole-bucket Parquet export, in a process of its own."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.history", "--export-only", str(data_dir), str(out)],
        capture_output=True, text=True, check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def _rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def _export_only(data_dir: Path, out: Path) -> None:
    from infra.exports.parquet import write_inventory
    from projections.inventory import inventory_rows

    views = RocksDBViewStore(data_dir / "views")
    baseline = peak = _rss_mib()

    def sample(_rows: int) -> None:  # after every row group
        nonlocal peak
        peak = max(peak, _rss_mib())

    started = time.monotonic()
    rows = write_inventory(inventory_rows(views, BUCKET), out, sample)
    elapsed = time.monotonic() - started
    views.close()
    print(f"{rows:,} rows in {elapsed:.1f} s ({rows / elapsed:,.0f} rows/s), "
          f"{out.stat().st_size / 2**20:.1f} MiB of Parquet; resident memory grew "
          f"{peak - baseline:.0f} MiB (from {baseline:.0f} MiB)")


def synthetic_export(rows: int, out: Path) -> str:
    """The Parquet writer alone on `rows` generated rows: its memory must not grow with
    the bucket (rows stream through in row groups)."""
    from infra.exports.parquet import write_inventory

    def generated() -> Iterator[dict[str, object]]:
        for n in range(rows):
            yield {"bucket": BUCKET, "key": key_name(n), "version_id": NULL_VERSION,
                   "is_latest": True, "is_delete_marker": False, "size": 4096,
                   "last_modified": "2026-01-01T00:00:00+00:00", "etag": f"{n:032x}",
                   "checksum": f"{n:064x}", "replica_count": 3}

    baseline = peak = _rss_mib()

    def sample(_rows: int) -> None:
        nonlocal peak
        peak = max(peak, _rss_mib())

    started = time.monotonic()
    written = write_inventory(generated(), out, sample)
    elapsed = time.monotonic() - started
    return (f"{written:,} generated rows in {elapsed:.1f} s, {out.stat().st_size / 2**20:.0f} MiB "
            f"of Parquet; resident memory grew {peak - baseline:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--export-only", nargs=2, type=Path, metavar=("DATA_DIR", "OUT"))
    parser.add_argument("--synthetic-rows", type=int, default=1_000_000,
                        help="rows for the Parquet writer alone (0: skip)")
    args = parser.parse_args()
    if args.export_only:
        _export_only(*args.export_only)
        return
    with tempfile.TemporaryDirectory(prefix="strata-history-") as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", root_access_key="BENCHACCESSKEY000001",
                            root_secret_key="bench-secret-key-000000000000")
        print(f"writing the history of {args.keys:,} keys ...", flush=True)
        started = time.monotonic()
        events = write_history(settings, args.keys)
        written = time.monotonic() - started
        print("rebuilding the views (the time index among them) ...", flush=True)
        started = time.monotonic()
        rebuild_views(settings)
        rebuilt = time.monotonic() - started
        rows = measure_listings(settings, args.keys, args.pages)
        print("exporting the inventory (every version) ...", flush=True)
        memory = export_memory(settings.data_dir, Path(tmp) / "inventory.parquet")
        print(memory)
        synthetic = (synthetic_export(args.synthetic_rows, Path(tmp) / "synthetic.parquet")
                     if args.synthetic_rows else "skipped")
        print(synthetic)
    lines = [
        f"Bucket of {args.keys:,} keys with {events:,} events of history (written in "
        f"{written:.0f} s; views with the time index rebuilt in {rebuilt:.0f} s, "
        f"{events / rebuilt:,.0f} events/s). 1000-key pages from a random key, "
        f"{args.pages} pages each, read from the views in-process.",
        "",
        "| listing | p50 | p99 | p50 against live |",
        "|---|---|---|---|",
        *rows,
        "",
        f"Inventory export of every version to Parquet: {memory}.",
        f"The Parquet writer alone: {synthetic}.",
    ]
    append_section("History at scale", "\n".join(lines))


if __name__ == "__main__":
    main()
