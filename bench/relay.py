"""Does the relay keep up with what the API instances accept? The Kafka cluster shape
(`strata cluster up --kafka`: PostgreSQL, tansu, the relay, 2 workers, 3 blob nodes,
2 API instances behind nginx) under a mixed S3 load, every role on this machine.

Run: .venv/bin/python -m bench.relay [--clients 16] [--seconds 60]

1. accepted: the load as fast as the clients can go (each one operation at a time):
   the operations a second the API instances accept, and the events a second they
   commit. Relay and view lag are sampled each second all along.
2. paced: the same load at a fixed rate (a share of what was accepted), lag sampled.
3. capacity: the relay is paused (SIGSTOP) for a while under the full load, then let
   go: the rate at which it drains its backlog while the load goes on is what it can
   sustain on this machine, beside everything else.
The relay keeps up when its lag stays flat (it ends a phase about where it began, and
stays within a few seconds). Appends its table to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import psycopg

from bench.load import Load, Target, prepare
from bench.peers import STRATA_AK, STRATA_SK, free_port
from bench.report import append_section
from infra.run import cluster
from infra.run.cluster_kafka import up_kafka
from infra.settings import Settings

ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
BUCKETS = ["bench-a", "bench-b", "bench-c", "bench-d"]


def metrics_of(port: int) -> dict[str, float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    found = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            found[name] = float(value)
    return found


@dataclass
class Sample:
    at: float
    wall: float
    head: float
    relay_events: float
    relay_seconds: float
    views_behind: float  # the worst API instance's


@dataclass(eq=False)
class Sampler(threading.Thread):
    api_ports: list[int]
    samples: list[Sample] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        super().__init__(daemon=True)

    def run(self) -> None:
        while not self.stopping.wait(1.0):
            try:
                found = [metrics_of(p) for p in self.api_ports]
            except httpx.HTTPError:
                continue
            self.samples.append(Sample(
                time.monotonic(), time.time(), max(m["strata_log_position"] for m in found),
                found[0].get("strata_relay_lag_events", 0),
                found[0].get("strata_relay_lag_seconds", 0),
                max(m["strata_views_lag_events"] for m in found)))

    def between(self, start: float, end: float) -> list[Sample]:
        return [s for s in self.samples if start <= s.at <= end]


@dataclass
class Phase:
    name: str
    seconds: float
    ops: int
    samples: list[Sample]

    @property
    def ops_per_second(self) -> float:
        return self.ops / self.seconds

    @property
    def events_per_second(self) -> float:
        if len(self.samples) < 2:
            return 0.0
        first, last = self.samples[0], self.samples[-1]
        return (last.head - first.head) / max(1e-9, last.at - first.at)

    def lag(self) -> tuple[float, float, float]:
        """(relay lag seconds: median, max, growth from the first to the last quarter)."""
        seconds = [s.relay_seconds for s in self.samples] or [0.0]
        quarter = max(1, len(seconds) // 4)
        growth = statistics.mean(seconds[-quarter:]) - statistics.mean(seconds[:quarter])
        return statistics.median(seconds), max(seconds), growth

    def flat(self) -> bool:
        _, worst, growth = self.lag()
        return worst < 5.0 and growth < 1.0

    def row(self) -> str:
        median, worst, growth = self.lag()
        views = max((s.views_behind for s in self.samples), default=0)
        return (f"| {self.name} | {self.ops_per_second:,.0f} | {self.events_per_second:,.0f} | "
                f"{median:.2f} s / {worst:.2f} s | {growth:+.2f} s | {views:,.0f} | "
                f"{'yes' if self.flat() else 'no'} |")


def run_phase(name: str, load: Load, sampler: Sampler, seconds: float) -> Phase:
    print(f"{name}: {seconds:.0f} s ...", flush=True)
    start, wall = time.monotonic(), time.time()
    time.sleep(seconds)
    end = time.monotonic()
    phase = Phase(name, end - start, load.completed_since(wall), sampler.between(start, end))
    print("  " + phase.row(), flush=True)
    return phase


def capacity(load: Load, sampler: Sampler, relay_pid: int, paused: float) -> tuple[float, float]:
    """(events/s the relay drains its backlog at under the load, seconds it took)."""
    print(f"capacity: the relay paused for {paused:.0f} s under the load ...", flush=True)
    mix = load.mix
    load.mix = {"put": 9, "delete": 1}  # reads would wait for the views, and stall the load
    os.kill(relay_pid, signal.SIGSTOP)
    time.sleep(paused)
    backlog = sampler.samples[-1]
    os.kill(relay_pid, signal.SIGCONT)
    load.mix = mix
    resumed = time.monotonic()
    deadline = resumed + 300
    while time.monotonic() < deadline:
        time.sleep(0.5)
        last = sampler.samples[-1]
        if last.at > resumed + 1 and last.relay_events < 50:
            relayed = (last.head - last.relay_events) - (backlog.head - backlog.relay_events)
            took = last.at - resumed
            print(f"  backlog of {backlog.relay_events:,.0f} events drained in {took:.1f} s: "
                  f"{relayed / took:,.0f} events/s relayed", flush=True)
            return relayed / took, took
    raise TimeoutError("the relay did not drain its backlog in 5 minutes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--pause", type=float, default=20)
    args = parser.parse_args()
    os.environ.update(STRATA_ROOT_ACCESS_KEY=STRATA_AK, STRATA_ROOT_SECRET_KEY=STRATA_SK,
                      STRATA_LOG_LEVEL="warning")
    database = f"strata_relay_bench_{os.getpid()}"
    settings = replace(Settings.from_env(), s3_port=free_port(), api_port=free_port(),
                       event_store=f"postgresql://postgres@127.0.0.1:5432/{database}")
    with tempfile.TemporaryDirectory(prefix="strata-relay-bench-") as tmp:
        root = Path(tmp) / "cluster"
        up_kafka(root, settings, nodes=3, zones=3, replicas=3)
        try:
            processes = cluster.load(root)
            relay_pid = next(p.pid for p in processes if p.role == "relay")
            apis = [p.api_port for p in processes if p.role == "api"]
            target = Target(f"http://127.0.0.1:{settings.s3_port}",
                            f"http://127.0.0.1:{settings.api_port}", STRATA_AK, STRATA_SK,
                            BUCKETS)
            prepare(target)
            sampler = Sampler(apis)
            sampler.start()
            load = Load(target, clients_count=args.clients)
            load.start()
            time.sleep(5)  # warm up: connections, caches
            accepted = run_phase("accepted (as fast as the clients go)", load, sampler,
                                 args.seconds)
            drain, took = capacity(load, sampler, relay_pid, args.pause)
            load.rate = accepted.ops_per_second * 0.8
            paced = run_phase(f"paced at {load.rate:,.0f} ops/s (80%)", load, sampler,
                              args.seconds)
            load.stop()
            sampler.stopping.set()
            errors = Counter(f"{op.kind} {op.error}" for op in load.history()
                             if op.outcome != "ok")
        finally:
            cluster.down(root, quiet=True)
            with psycopg.connect(ADMIN, autocommit=True) as db:
                db.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    rows = [
        "| phase | S3 ops/s accepted | events/s committed | relay lag median / max | "
        "lag growth | views behind, max events | lag flat |",
        "|---|---|---|---|---|---|---|",
        accepted.row(),
        paced.row(),
        "",
        f"Relay capacity beside the full load: paused {args.pause:.0f} s, it drained its "
        f"backlog in {took:.1f} s while the load went on, relaying **{drain:,.0f} events/s** "
        f"against the **{accepted.events_per_second:,.0f} events/s** the two API instances "
        f"committed at full load ({drain / max(1e-9, accepted.events_per_second):.1f}x). "
        f"{sum(errors.values())} of {len(load.history()):,} operations did not succeed"
        f"{': ' if errors else ''}{', '.join(f'{n} {e}' for e, n in errors.most_common())}.",
    ]
    print("\n".join(rows))
    append_section(
        "Relay under load (Kafka cluster)",
        f"`strata cluster up --kafka` (PostgreSQL, tansu, relay, 2 workers, 3 blob nodes, "
        f"2 API instances behind nginx) and {args.clients} boto3 clients, all on this "
        f"machine's two cores; mix {load.mix} of 4 KiB objects over {len(BUCKETS)} buckets. "
        f"Command: `.venv/bin/python -m bench.relay --clients {args.clients} "
        f"--seconds {args.seconds:.0f}`.\n\n" + "\n".join(rows),
    )


if __name__ == "__main__":
    main()
