"""`make bench`: `strata serve` over 1, 2 and 4 PostgreSQL event-store cells (issue 28,
architecture decision 25), measured in turn at each workload and concurrency. The load
walks 4 buckets, which the cells' directory spreads (one cell: all four in it).

Needs the PostgreSQL server on 127.0.0.1:5432; makes its own databases, drops them after.

Run: .venv/bin/python -m bench.cells [--seconds 5] [--concurrency 8,32] [--cells 1,2,4]
Writes docs/benchmarks-cells.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from bench import wrk
from bench.peers import STRATA_AK, STRATA_SK, StrataPeer, free_port, wait_server_core_quiet
from bench.report import DOCS

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
BUCKETS = [f"cells-{n}" for n in range(4)]
KEYS_A_BUCKET = 100
KiB = 1024


class CellsPeer(StrataPeer):
    def __init__(self, workdir: Path, cells: list[str]) -> None:
        super().__init__(workdir)
        self.name = f"cells-{len(cells)}"
        self.cells = cells
        self.pinned = False  # as bench.workers: PostgreSQL shares the machine

    def start(self) -> None:
        self.port, self.api_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("STRATA_")}
        env.update(STRATA_ROOT_ACCESS_KEY=STRATA_AK, STRATA_ROOT_SECRET_KEY=STRATA_SK,
                   STRATA_LOG_LEVEL="warning", STRATA_EVENT_STORE=",".join(self.cells))
        self._spawn([sys.executable, "-m", "infra.run.cli", "serve", "--data-dir",
                     str(self.workdir / self.name), "--s3-port", str(self.port),
                     "--api-port", str(self.api_port)], env)


@contextlib.contextmanager
def databases(count: int) -> Iterator[list[str]]:
    names = [f"strata_bench_{uuid.uuid4().hex[:10]}" for _ in range(count)]
    with psycopg.connect(PG_ADMIN, autocommit=True) as db:
        for name in names:
            db.execute(f'CREATE DATABASE "{name}"')
    try:
        yield [f"postgresql://postgres@127.0.0.1:5432/{name}" for name in names]
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as db:
            for name in names:
                db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _entries(peer: CellsPeer, operation: str) -> list[tuple[str, str]]:
    client: Any = peer.client()
    method = {"PUT": "put_object", "GET": "get_object"}[operation]
    return [(operation, client.generate_presigned_url(
        method, Params={"Bucket": bucket, "Key": f"k/{n}"}, ExpiresIn=7200)[len(peer.url):])
        for n in range(KEYS_A_BUCKET) for bucket in BUCKETS]


def _prepare(peer: CellsPeer) -> None:
    client: Any = peer.client()
    for bucket in BUCKETS:
        client.create_bucket(Bucket=bucket)
        for n in range(KEYS_A_BUCKET):
            client.put_object(Bucket=bucket, Key=f"k/{n}", Body=os.urandom(4 * KiB))


def run(counts: list[int], seconds: float, levels: list[int],
        progress: Callable[[str], None]) -> list[tuple[str, int, str, wrk.Result]]:
    rows = []
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="strata-cells-")))
        peers = []
        for count in counts:
            cells = stack.enter_context(databases(count))
            peer = CellsPeer(work, cells)
            progress(f"starting {peer.name}")
            peer.start()
            stack.callback(peer.stop)
            _prepare(peer)
            peers.append(peer)
        for operation, name in (("PUT", "put-4k"), ("GET", "get-4k")):
            entries = {p.name: _entries(p, operation) for p in peers}
            for level in levels:
                for peer in peers:
                    wait_server_core_quiet()
                    result = wrk.run(peer.url, entries[peer.name], 4 * KiB, level, seconds,
                                     work)
                    progress(f"  {peer.name:8} {name:7} c={level:<3} {result.ops:9.1f} ops/s "
                             f"p50 {result.p50_ms:7.2f} ms p99 {result.p99_ms:7.2f} ms"
                             + (f"  errors {result.errors}" if result.errors else ""))
                    rows.append((name, level, peer.name, result))
    return rows


def table(rows: list[tuple[str, int, str, wrk.Result]]) -> list[str]:
    one = {(w, c): r for w, c, p, r in rows if p == "cells-1"}
    lines = ["| workload | conns | cells | ops/s | p50 ms | p99 ms | errors | ÷ 1 cell |",
             "|---|---|---|---|---|---|---|---|"]
    for workload, level, peer, result in rows:
        base = one.get((workload, level))
        ratio = (f"{result.ops / base.ops:.2f}x" if base and peer != "cells-1" and base.ops
                 else "")
        lines.append(f"| {workload} | {level} | {peer.removeprefix('cells-')} | "
                     f"{result.ops:.1f} | {result.p50_ms:.2f} | {result.p99_ms:.2f} | "
                     f"{result.errors} | {ratio} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--concurrency", default="8,32")
    parser.add_argument("--cells", default="1,2,4")
    parser.add_argument("--no-report", action="store_true", help="print only")
    args = parser.parse_args()
    rows = run([int(c) for c in args.cells.split(",")], args.seconds,
               [int(c) for c in args.concurrency.split(",")], lambda s: print(s, flush=True))
    lines = table(rows)
    print("\n".join(lines))
    if not args.no_report:
        DOCS.mkdir(exist_ok=True)
        (DOCS / "benchmarks-cells.md").write_text("\n".join([
            "# Event-store cells: 1, 2 and 4",
            "",
            f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores: "
            "`strata serve` over 1, 2 and 4 PostgreSQL databases (cells) on the local "
            "server, not pinned, wrk (one thread) on core 1; 4 KiB objects over 4 buckets "
            "that the directory spreads over the cells. Command: `python -m bench.cells`.",
            "",
            *lines,
            "",
        ]))


if __name__ == "__main__":
    main()
