"""`make bench`: `strata serve --workers 1` against `--workers 2` (issue 28), both up for
the whole run and measured in turn at each workload and concurrency, neither pinned to
a core (wrk, one thread, keeps core 1 as in every run here).

Run: .venv/bin/python -m bench.workers [--seconds 5] [--concurrency 8,32]
Writes docs/benchmarks-workers.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench.peers import STRATA_AK, STRATA_SK, StrataPeer, free_port
from bench.report import DOCS
from bench.suite import WORKLOADS, Row, _Interleaved

MEASURED = ("put-4k", "get-4k", "mixed-4k")
TARGET = 1.7  # the issue's: two workers at least 1.7x one, on this 2-core machine


class WorkersPeer(StrataPeer):
    def __init__(self, workdir: Path, workers: int) -> None:
        super().__init__(workdir)
        self.name = f"strata-w{workers}"
        self.workers = workers
        self.pinned = False

    def start(self) -> None:
        self.port, self.api_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("STRATA_")}
        env.update(STRATA_ROOT_ACCESS_KEY=STRATA_AK, STRATA_ROOT_SECRET_KEY=STRATA_SK,
                   STRATA_LOG_LEVEL="warning")
        self._spawn([sys.executable, "-m", "infra.run.cli", "serve", "--workers",
                     str(self.workers), "--data-dir", str(self.workdir / self.name),
                     "--s3-port", str(self.port), "--api-port", str(self.api_port)], env)


def run(seconds: float, levels: list[int], progress: Callable[[str], None],
        only: set[str] | None = None) -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="strata-bench-workers-") as tmp:
        work = Path(tmp)
        peers = [WorkersPeer(work, 1), WorkersPeer(work, 2)]
        running: list[WorkersPeer] = []
        try:
            for peer in peers:
                progress(f"starting {peer.name}")
                peer.start()
                running.append(peer)
            workloads = [w for w in WORKLOADS
                         if w.name in MEASURED and (only is None or w.name in only)]
            _Interleaved(list(running), levels, seconds, work, work, progress).run(
                workloads, rows)
        finally:
            for peer in running:
                peer.stop()
    return rows


def table(rows: list[Row]) -> list[str]:
    one = {(r.workload, r.connections): r for r in rows if r.peer == "strata-w1"}
    lines = ["| workload | conns | workers | ops/s | p50 ms | p99 ms | errors | ÷ 1 worker |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        base = one.get((r.workload, r.connections))
        ratio = (f"{r.result.ops / base.result.ops:.2f}x"
                 if base and r.peer != "strata-w1" and base.result.ops else "")
        lines.append(f"| {r.workload} | {r.connections} | {r.peer.removeprefix('strata-w')} "
                     f"| {r.result.ops:.1f} | {r.result.p50_ms:.2f} | {r.result.p99_ms:.2f} "
                     f"| {r.result.errors} | {ratio} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--concurrency", default="8,32")
    parser.add_argument("--only", default="", help="comma-separated workload names")
    parser.add_argument("--no-report", action="store_true", help="print only")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    only = set(args.only.split(",")) if args.only else None
    rows = run(args.seconds, levels, lambda line: print(line, flush=True), only)
    lines = table(rows)
    print("\n".join(lines))
    if not args.no_report:
        DOCS.mkdir(exist_ok=True)
        report = DOCS / "benchmarks-workers.md"
        report.write_text("\n".join([
            "# One worker against two",
            "",
            f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores: "
            "`strata serve --workers 1` and `--workers 2`, neither pinned, wrk (one thread) "
            f"on core 1. The issue's target: two workers at least {TARGET}x one at 8 and 32 "
            "connections.",
            "",
            *lines,
            "",
        ]))
        print(f"\nwritten: {report}")


if __name__ == "__main__":
    main()
