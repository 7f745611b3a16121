"""A Jepsen-style soak of the Kafka cluster: a recorded load, faults on every role, and a
checker for lost, stale, resurrected and corrupt objects and for as-of reads.

Run: .venv/bin/python -m bench.soak [--minutes 10] [--rate 40] [--clients 12]

`strata cluster up --kafka` (PostgreSQL, tansu, the relay, 2 workers, 3 blob nodes,
2 API instances behind nginx), every role on this machine. While `bench.load` drives
it, a nemesis kills one process at a time with SIGKILL, in turn over the roles (an
API instance, a worker, a blob node, the relay, the broker), leaves it down a few
seconds, starts it again (`strata cluster restart`) and times how long until it is
healthy. Once the time is up the faults stop, the load stops, every process is
waited for to reach the store's position and every chunk its replicas; then every
key is read and listed, and the whole history is checked (bench/load.py). Relay and
view lag are sampled each second all along. Exits 1 on any violation.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import orjson
import psycopg

from bench.load import Load, Target, check, final_reads, prepare
from bench.peers import STRATA_AK, STRATA_SK, free_port
from bench.relay import ADMIN, Sampler, metrics_of
from bench.report import append_section
from infra.run import cluster
from infra.run.cluster_kafka import up_kafka
from infra.settings import Settings

BUCKETS = ["soak-a", "soak-b", "soak-c", "soak-d"]
VICTIMS = ["api", "worker", "node", "relay", "broker"]
BACK_SECONDS = 120


@dataclass
class Fault:
    name: str
    killed_at: float
    down_seconds: float
    back_after: float | None = None  # seconds from the restart until healthy


@dataclass(eq=False)
class Nemesis(threading.Thread):
    root: Path
    every: float
    rng: random.Random
    faults: list[Fault] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(daemon=True)

    def run(self) -> None:
        secret = (self.root / "cluster-secret").read_text().strip()
        for role in itertools.cycle(VICTIMS):
            if self.stopping.wait(self.every):
                return
            victims = [p for p in cluster.load(self.root) if p.role == role]
            victim = self.rng.choice(victims)
            down = self.rng.uniform(1.0, 6.0)
            os.kill(victim.pid, signal.SIGKILL)
            fault = Fault(victim.name, time.time(), down)
            self.faults.append(fault)
            print(f"  nemesis: killed {victim.name}; down {down:.1f} s", flush=True)
            time.sleep(down)
            restarted = cluster.restart(self.root, victim.name)
            began = time.monotonic()
            while not cluster._healthy(restarted, secret):
                if time.monotonic() - began > BACK_SECONDS:
                    self.errors.append(f"{victim.name} not healthy {BACK_SECONDS} s after "
                                       "its restart")
                    break
                time.sleep(0.2)
            else:
                fault.back_after = time.monotonic() - began
                print(f"  nemesis: {victim.name} healthy {fault.back_after:.1f} s after "
                      "its restart", flush=True)


def converge(root: Path, api_url: str, timeout: float) -> tuple[float, int]:
    """Seconds until every API instance and worker has the store's position and no chunk
    is under-replicated; the under-replicated count at the end."""
    began = time.monotonic()
    token = httpx.post(f"{api_url}/auth/token", json={"access_key": STRATA_AK,
                                                      "secret_key": STRATA_SK},
                       timeout=30).json()["token"]
    under = -1
    while time.monotonic() - began < timeout:
        try:
            ports = [p.api_port if p.role == "api" else p.port
                     for p in cluster.load(root) if p.role in ("api", "worker")]
            found = [metrics_of(port) for port in ports]
            heads = {m["strata_log_position"] for m in found}
            views = {m["strata_views_position"] for m in found}
            under = int(httpx.get(f"{api_url}/admin/durability",
                                  headers={"authorization": f"Bearer {token}"},
                                  timeout=60).json()["under_replicated"])
            if len(heads) == 1 and views == heads and under == 0:
                return time.monotonic() - began, 0
        except (httpx.HTTPError, KeyError):
            pass
        time.sleep(1.0)
    return time.monotonic() - began, under


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--rate", type=float, default=40, help="S3 operations a second")
    parser.add_argument("--clients", type=int, default=12)
    parser.add_argument("--fault-every", type=float, default=20, help="seconds between kills")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true",
                        help="leave the cluster running and its database in place")
    args = parser.parse_args()
    os.environ.update(STRATA_ROOT_ACCESS_KEY=STRATA_AK, STRATA_ROOT_SECRET_KEY=STRATA_SK,
                      STRATA_LOG_LEVEL="warning", STRATA_GC_GRACE_SECONDS="30",
                      STRATA_NODE_DOWN_AFTER_SECONDS="5",
                      STRATA_REPLICATION_INTERVAL_SECONDS="2")
    database = f"strata_soak_{os.getpid()}"
    settings = replace(Settings.from_env(), s3_port=free_port(), api_port=free_port(),
                       event_store=f"postgresql://postgres@127.0.0.1:5432/{database}")
    keep = Path(tempfile.mkdtemp(prefix="strata-soak-"))
    root = keep / "cluster"
    up_kafka(root, settings, nodes=3, zones=3, replicas=3)
    try:
        target = Target(f"http://127.0.0.1:{settings.s3_port}",
                        f"http://127.0.0.1:{settings.api_port}", STRATA_AK, STRATA_SK, BUCKETS)
        prepare(target)
        apis = [p.api_port for p in cluster.load(root) if p.role == "api"]
        sampler = Sampler(apis)
        sampler.start()
        load = Load(target, clients_count=args.clients, rate=args.rate)
        nemesis = Nemesis(root, args.fault_every, random.Random(args.seed))
        started = time.time()
        load.start()
        nemesis.start()
        print(f"soak: {args.minutes:g} min at {args.rate:g} ops/s, a fault every "
              f"{args.fault_every:g} s; the cluster is under {root}", flush=True)
        deadline = time.monotonic() + args.minutes * 60
        while time.monotonic() < deadline:
            time.sleep(min(30.0, max(0.0, deadline - time.monotonic())))
            done = sum(len(c.history) for c in load.clients)
            print(f"  {int((time.time() - started) / 60)} min: {done:,} operations, "
                  f"{len(nemesis.faults)} faults", flush=True)
        nemesis.stopping.set()
        nemesis.join(BACK_SECONDS + 30)
        load.stop()
        elapsed = time.time() - started
        print("load stopped; waiting for every process and replica to converge ...",
              flush=True)
        converged, under = converge(root, target.api_url, 300)
        final = final_reads(target, load)
        sampler.stopping.set()
        history = load.history()
        verdict = check(history, final)
        with open(keep / "history.jsonl", "wb") as out:
            for op in [*history, *final]:
                out.write(orjson.dumps(op, default=sorted) + b"\n")
    finally:
        if not args.keep:
            cluster.down(root, quiet=True)
            with psycopg.connect(ADMIN, autocommit=True) as db:
                db.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    backs = [f.back_after for f in nemesis.faults if f.back_after is not None]
    by_role = Counter(f.name.split("-")[0] for f in nemesis.faults)
    # After a broker lost its log the relay publishes it all again, and until it has, the
    # oldest event not on Kafka is the run's first: that wait is reported apart.
    refills = [(f.killed_at, f.killed_at + f.down_seconds + (f.back_after or 0) + 30)
               for f in nemesis.faults if f.name == "broker"]
    steady = [s for s in sampler.samples
              if not any(start <= s.wall <= end for start, end in refills)]
    relay_worst = max((s.relay_seconds for s in steady), default=0.0)
    refill_worst = max((s.relay_seconds for s in sampler.samples if s not in steady),
                       default=0.0)
    views_worst = max((s.views_behind for s in sampler.samples), default=0.0)
    lines = [
        f"{elapsed / 60:.1f} minutes, {len(history):,} operations "
        f"({len(history) / elapsed:.0f}/s) from {args.clients} clients; outcomes: "
        f"{json.dumps(verdict.operations, sort_keys=True)}.",
        f"Faults: {len(nemesis.faults)} kills with SIGKILL ({dict(by_role)}), each down "
        f"1 to 6 s; back (healthy) {min(backs, default=0):.1f} to {max(backs, default=0):.1f} s "
        f"after the restart; not back: {len(nemesis.errors)}.",
        f"After the load: every process at the store's position and every chunk on its "
        f"replicas {converged:.0f} s later; under-replicated chunks at the end: {under}.",
        f"Worst relay lag seen: {relay_worst:.1f} s outside the 30 s after each broker "
        f"kill, {refill_worst:.0f} s within them (the oldest event not yet published again "
        f"is the run's first); worst views lag: {views_worst:,.0f} events (sampled each "
        "second).",
        f"Violations: {len(verdict.violations)} {verdict.counts or ''}.",
    ]
    for line in lines:
        print(line)
    for violation in verdict.violations[:20]:
        print("  " + violation)
    title = ("Soak (Kafka cluster, faults on every role)" if nemesis.faults
             else "Steady load (Kafka cluster, no faults)")
    append_section(title,
                   f"Command: `.venv/bin/python -m bench.soak --minutes {args.minutes:g} "
                   f"--rate {args.rate:g} --clients {args.clients} --fault-every "
                   f"{args.fault_every:g}`.\n\n" + "\n".join(
                       f"- {line}" for line in lines))
    print(f"logs and the history (history.jsonl) kept under {keep}")
    return 1 if verdict.violations or nemesis.errors or under else 0


if __name__ == "__main__":
    sys.exit(main())
