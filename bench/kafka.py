"""The Kafka path of a cluster: relay throughput, and the latency from a commit in the
store to the change being in an API instance's views (through relay, broker, feed).

Run: .venv/bin/python -m bench.kafka [--keys 20000] [--commits 300]
Needs PostgreSQL on 127.0.0.1:5432; starts its own tansu broker. Appends its table to
docs/benchmarks.md when that file exists.

The peer, measured in the same run: the same views following the store directly (the
embedded runner, polling PostgreSQL), which is what the Kafka hop adds to.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from bench.metadata import BUCKET, _version, write_keys
from bench.peers import free_port
from bench.report import append_section
from domain.application import ObjectStore
from domain.objects import ObjectKey
from infra.eventstore.log_notify import LogListener, install_log_trigger
from infra.kafka.relay import Relay
from infra.kafka.relay_tracking import PostgresRelayTracking
from infra.kafka.tansu import start_tansu, wait_until_serving
from infra.run.system import SYSTEM_META, all_projections
from infra.settings import Settings
from infra.views.kafka_feed import KafkaViewFeed
from infra.views.rocksdb import RocksDBViewStore
from projections.runner import ProjectionRunner

PARTITIONS = 3
ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


class RelayThread:
    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self.relay.run(self._stop))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)


def _commit_one(store: ObjectStore, prefix: str, n: int) -> int:
    """A new key's first version, committed alone; the log position it reached."""
    now = datetime.now(UTC)
    obj = ObjectKey.create(BUCKET, f"{prefix}/{n:06d}", now)
    obj.put_version(_version(n, now), "Unversioned", SYSTEM_META, now)
    store.save(obj)
    return store.current_position()


def commit_latencies(store: ObjectStore, runner: ProjectionRunner, commits: int,
                     prefix: str) -> list[float]:
    """ms from a PUT's commit to the views having it, one commit at a time."""
    latencies = []
    for n in range(commits):
        position = _commit_one(store, prefix, n)
        committed = time.perf_counter()
        runner.wait_for(position, timeout=30)
        latencies.append((time.perf_counter() - committed) * 1000)
        time.sleep(0.01)
    return latencies


def notified_latencies(store: ObjectStore, runner: ProjectionRunner, commits: int,
                       prefix: str) -> list[float]:
    """ms from a PUT's commit to the views having it, where nothing but the log's
    notification wakes the views (no read barrier asks them to catch up)."""
    latencies = []
    for n in range(commits):
        position = _commit_one(store, prefix, n)
        committed = time.perf_counter()
        while runner.position < position:
            time.sleep(0.0002)
        latencies.append((time.perf_counter() - committed) * 1000)
        time.sleep(0.01)
    return latencies


def _quantiles(values: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(values, n=100)
    return cuts[49], cuts[98]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keys", type=int, default=20_000)
    parser.add_argument("--commits", type=int, default=300)
    args = parser.parse_args()
    name = f"strata_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    port = free_port()
    servers = f"127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="strata-bench-kafka-") as tmp:
        with open(Path(tmp) / "tansu.log", "ab") as log:
            broker = start_tansu("127.0.0.1", port, log)
        store = ObjectStore(Settings(event_store=url).event_store_env())
        tracking = PostgresRelayTracking(url, "strata.events")
        try:
            wait_until_serving(servers, "strata.events", PARTITIONS)
            print(f"writing {args.keys:,} keys ({2 * args.keys + 1:,} events) to PostgreSQL",
                  flush=True)
            write_keys(store, args.keys, 5000)
            head = store.current_position()
            relay = Relay(store, tracking, servers, "strata.events", PARTITIONS, 0.005)
            relaying = RelayThread(relay)
            started = time.perf_counter()
            relaying.start()
            while relay.place.position < head:
                time.sleep(0.05)
            relay_seconds = time.perf_counter() - started
            print(f"relay: {head:,} events in {relay_seconds:.1f}s", flush=True)

            views = RocksDBViewStore(Path(tmp) / "views-kafka")
            runner = ProjectionRunner(store, views, all_projections())
            feed = KafkaViewFeed(runner, views, servers, "strata.events", "bench", PARTITIONS)
            started = time.perf_counter()
            feed.start()
            runner.wait_for(head, timeout=600)
            feed_seconds = time.perf_counter() - started
            print(f"views from the topic: {head:,} events in {feed_seconds:.1f}s", flush=True)
            kafka_latency = commit_latencies(store, runner, args.commits, "kafka")
            feed.stop()
            views.close()

            direct_views = RocksDBViewStore(Path(tmp) / "views-direct")
            direct = ProjectionRunner(store, direct_views, all_projections(), poll_seconds=0.005)
            direct.catch_up()
            direct.start()
            direct_latency = commit_latencies(store, direct, args.commits, "direct")
            direct.stop()
            direct_views.close()

            recorder: Any = store.recorder
            install_log_trigger(url, recorder.datastore.schema, recorder.events_table_name)
            listened_views = RocksDBViewStore(Path(tmp) / "views-listened")
            listened = ProjectionRunner(store, listened_views, all_projections())
            listened.catch_up()
            listened.start()
            listener = LogListener(url, listened.wake)
            listener.start()
            listener.listening.wait(10)
            listened_latency = notified_latencies(store, listened, args.commits, "listened")
            listener.stop()
            listened.stop()
            listened_views.close()
            relaying.stop()
        finally:
            tracking.close()
            store.close()
            broker.kill()
            broker.wait(10)
            with psycopg.connect(ADMIN, autocommit=True) as db:
                db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    k50, k99 = _quantiles(kafka_latency)
    d50, d99 = _quantiles(direct_latency)
    n50, n99 = _quantiles(listened_latency)
    rows = [
        "| measure | strata (Kafka path) | strata (STRATA_VIEWS_FROM=store: LISTEN/NOTIFY) "
        "| peer: views following the store, asked by a read |",
        "|---|---|---|---|",
        f"| relay throughput (tansu) | {head / relay_seconds:,.0f} "
        "events/s | — | — |",
        f"| views rebuilt from the topic | {head / feed_seconds:,.0f} events/s | — | — |",
        f"| commit → view, p50 | {k50:.1f} ms | {n50:.1f} ms | {d50:.1f} ms |",
        f"| commit → view, p99 | {k99:.1f} ms | {n99:.1f} ms | {d99:.1f} ms |",
    ]
    for row in rows:
        print(row)
    append_section(
        "Kafka path (cluster)",
        f"{head:,} events in PostgreSQL, a tansu broker with {PARTITIONS} partitions, "
        f"{args.commits} single commits 10 ms apart for the latency. Command: "
        f"`.venv/bin/python -m bench.kafka --keys {args.keys} --commits {args.commits}`.\n\n"
        + "\n".join(rows),
    )


if __name__ == "__main__":
    main()
