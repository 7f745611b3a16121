"""Metadata at scale: views rebuilt from the log (events/s), then ListObjectsV2 page
latency (1000 keys a page) in a bucket of a million keys, through the S3 door.

Run: .venv/bin/python -m bench.metadata [--keys 1000000] [--pages 300]
Appends its table to docs/benchmarks.md when that file exists.

The log is written straight through the store (1000 keys a transaction, as group
commit batches concurrent PUTs), not over HTTP: a million PUTs would take most of an
hour and measure the write path, which bench.suite already does.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from api.operations import new_version
from bench.peers import STRATA_AK, STRATA_SK, StrataPeer
from bench.report import append_section
from domain.access import canned_acl
from domain.application import ObjectStore
from domain.objects import ObjectKey
from domain.records import NULL_VERSION, Content, Version
from infra.run.rebuild import rebuild_views
from infra.run.system import ROOT_USER, SYSTEM_META, open_system
from infra.settings import Settings

BUCKET = "million"


def key_name(n: int) -> str:
    # Spread over 1000 "directories" so that prefix listings have work to do too.
    return f"dir{n % 1000:03d}/object-{n:08d}.dat"


def _version(n: int, now: datetime) -> Version:
    """What a 4 KiB PUT into an unversioned bucket records (the chunk need not exist)."""
    content: Content = {"size": 4096, "etag": f"{n:032x}", "sha256": f"{n:064x}",
                        "chunks": [{"digest": f"{n:064x}", "size": 4096}]}
    version = new_version(content, ROOT_USER, canned_acl("private", ROOT_USER), now,
                          "application/octet-stream", {}, {})
    return {**version, "version_id": NULL_VERSION}


def write_keys(store: ObjectStore, keys: int, report_every: int) -> None:
    """The bucket and `keys` keys, 1000 to a transaction."""
    store.create_bucket(BUCKET, ROOT_USER, SYSTEM_META, datetime.now(UTC))
    for first in range(0, keys, 1000):
        batch = []
        for n in range(first, min(first + 1000, keys)):
            now = datetime.now(UTC)
            obj = ObjectKey.create(BUCKET, key_name(n), now)
            obj.put_version(_version(n, now), "Unversioned", SYSTEM_META, now)
            batch.append(obj)
        store.save(*batch)
        if (first + len(batch)) % report_every == 0:
            print(f"  wrote {first + len(batch):,} keys", flush=True)


def write_log(settings: Settings, keys: int) -> float:
    system = open_system(settings)
    try:
        started = time.monotonic()
        write_keys(system.store, keys, 100_000)
        return time.monotonic() - started
    finally:
        system.close()


def list_latencies(peer: StrataPeer, keys: int, pages: int) -> dict[str, list[float]]:
    client: Any = peer.client()
    rng = random.Random(7)
    results: dict[str, list[float]] = {"from a random key": [], "under a prefix": []}
    with httpx.Client(timeout=60) as http:
        for _ in range(pages):
            start_after = key_name(rng.randrange(keys))
            url = client.generate_presigned_url(
                "list_objects_v2",
                Params={"Bucket": BUCKET, "MaxKeys": 1000, "StartAfter": start_after})
            started = time.perf_counter()
            response = http.get(url)
            results["from a random key"].append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            assert response.content.count(b"<Key>") >= 1
            prefix = f"dir{rng.randrange(1000):03d}/"
            url = client.generate_presigned_url(
                "list_objects_v2", Params={"Bucket": BUCKET, "MaxKeys": 1000, "Prefix": prefix})
            started = time.perf_counter()
            response = http.get(url)
            results["under a prefix"].append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
    return results


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--pages", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="strata-metadata-") as tmp:
        work = Path(tmp)
        peer = StrataPeer(work)
        settings = Settings(data_dir=work / "strata-data", root_access_key=STRATA_AK,
                            root_secret_key=STRATA_SK)
        print(f"writing {args.keys:,} keys to the event log ...", flush=True)
        write_seconds = write_log(settings, args.keys)
        print("rebuilding the views from the log ...", flush=True)
        started = time.monotonic()
        events = rebuild_views(settings)
        rebuild_seconds = time.monotonic() - started
        print("starting strata over that data directory ...", flush=True)
        peer.start()
        try:
            catching_up_since = time.monotonic()
            peer.wait_caught_up(lambda line: print(line, flush=True))
            waited = time.monotonic() - catching_up_since
            latencies = list_latencies(peer, args.keys, args.pages)
        finally:
            peer.stop()
    lines = [
        f"Bucket of {args.keys:,} keys ({events:,} events: a Created and a VersionPut per key, "
        f"written in {write_seconds:.0f} s).",
        "",
        "| measure | value |",
        "|---|---|",
        f"| views rebuilt from the log | {events / rebuild_seconds:,.0f} events/s "
        f"({rebuild_seconds:.1f} s) |",
    ]
    for name, values in latencies.items():
        lines.append(f"| ListObjectsV2, 1000 keys, {name} "
                     f"| p50 {statistics.median(values):.1f} ms, "
                     f"p99 {percentile(values, 0.99):.1f} ms ({len(values)} pages) |")
    lines += ["", f"Listings timed once strata's views and workers had caught up with the log "
              f"({waited:.0f} s after it started: its garbage collector replays a log it has "
              "not seen)."]
    print("\n".join(lines))
    append_section("Metadata at scale",
                   "\n".join(lines) + "\n\nmoto is left out here: filling it with a million "
                   "keys over HTTP takes hours.")


if __name__ == "__main__":
    main()
