"""`make bench`: the same load against strata, moto, a bare fsync Starlette app, nginx
(and Ceph radosgw when it is up), side by side in one run: each workload at each
concurrency runs on every server in turn.

Run: .venv/bin/python -m bench.suite [--seconds 5] [--concurrency 1,8,32] [--only put-4k,...]
Writes docs/benchmarks.md and docs/benchmarks.png.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import wrk
from bench.peers import (
    CephPeer,
    MemoryPeer,
    MotoPeer,
    NginxPeer,
    Peer,
    RawFilePeer,
    StrataPeer,
    wait_server_core_quiet,
)
from bench.report import DOCS, REPORT

KiB, MiB = 1024, 1024 * 1024
BUCKET = "bench"


@dataclass(frozen=True)
class Workload:
    name: str
    size: int  # bytes moved per request (for MB/s); 0 for metadata calls
    keys: int  # how many distinct keys the requests walk
    populate: bool  # the keys must exist first
    mix: tuple[tuple[str, int], ...]  # (S3 operation, weight)
    plain: bool = True  # also run against the non-S3 peers (raw file app, nginx)
    # Long enough that every connection finishes several requests: at 32 connections
    # a 64 MiB GET takes seconds, and 5 s would count one wave, not a rate.
    min_seconds: float = 0


# No HEAD workload: wrk waits for the body a HEAD response announces, so it cannot
# time HEAD; HEAD costs what GET costs here minus the body.
WORKLOADS = [
    Workload("put-4k", 4 * KiB, 500, False, (("PUT", 1),)),
    Workload("get-4k", 4 * KiB, 200, True, (("GET", 1),)),
    Workload("list-200", 0, 200, True, (("LIST", 1),), plain=False),
    Workload("delete-4k", 0, 20000, True, (("DELETE", 1),), plain=False),
    Workload("mixed-4k", 4 * KiB, 200, True,
             (("GET", 7), ("PUT", 2), ("LIST", 1)), plain=False),
    Workload("put-1m", 1 * MiB, 50, False, (("PUT", 1),)),
    Workload("get-64m", 64 * MiB, 2, True, (("GET", 1),), min_seconds=20),
]


def _s3_entries(peer: Peer, workload: Workload) -> list[tuple[str, str]]:
    client: Any = peer.client()
    methods = {"PUT": "put_object", "GET": "get_object", "HEAD": "head_object",
               "DELETE": "delete_object"}
    entries = []
    for operation, weight in workload.mix:
        for n in range(workload.keys):
            if operation == "LIST":
                url = client.generate_presigned_url(
                    "list_objects_v2", Params={"Bucket": BUCKET, "Prefix": f"{workload.name}/"},
                    ExpiresIn=7200)
            else:
                url = client.generate_presigned_url(
                    methods[operation], Params={"Bucket": BUCKET, "Key": f"{workload.name}/{n}"},
                    ExpiresIn=7200)
            entries.extend([(operation if operation != "LIST" else "GET",
                             url[len(peer.url):])] * weight)
    return entries


def _populate_s3(peer: Peer, workload: Workload) -> None:
    client: Any = peer.client()
    count = workload.keys if workload.size < 64 * MiB else 2
    size = workload.size or 4 * KiB
    body_size = min(size, 4 * KiB) if workload.name.startswith("delete") else size
    for n in range(count):
        client.put_object(Bucket=BUCKET, Key=f"{workload.name}/{n}",
                          Body=os.urandom(16) + b"p" * (body_size - 16))


def _plain_entries(workload: Workload) -> list[tuple[str, str]]:
    method = workload.mix[0][0]
    return [(method, f"/{workload.name}_{n}") for n in range(workload.keys)]


def _populate_plain(peer: Peer, workload: Workload, files: Path) -> None:
    size = workload.size or 4 * KiB
    for n in range(workload.keys):
        body = os.urandom(16) + b"p" * (size - 16)
        if isinstance(peer, NginxPeer):
            (files / f"{workload.name}_{n}").write_bytes(body)
        else:
            httpx.put(f"{peer.url}/{workload.name}_{n}", content=body).raise_for_status()


@dataclass(frozen=True)
class Row:
    workload: str
    connections: int
    peer: str
    result: wrk.Result
    size: int

    @property
    def mb_s(self) -> float:
        return self.result.ops * self.size / MiB


def _applies(peer: Peer, workload: Workload) -> bool:
    if peer.s3:
        return True
    if not workload.plain:
        return False
    return peer.can_put or workload.mix[0][0] != "PUT"


def run_suite(seconds: float, levels: list[int], only: set[str] | None,
              progress: Callable[[str], None], servers: set[str] | None = None) -> list[Row]:
    """Every server is up for the whole run, and each workload at each level is run on
    them one after another: the ratios compare measurements seconds apart. This VM's
    speed swings by up to 2x within minutes, so servers measured in turn, a few minutes
    each, gave ratios that moved with the VM rather than with the servers."""
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="strata-bench-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)  # nginx's workers run as an unprivileged user
        files = work / "static"
        files.mkdir(mode=0o755)
        peers: list[Peer] = [StrataPeer(work), MotoPeer(work), RawFilePeer(work),
                             MemoryPeer(work), NginxPeer(work, files)]
        if CephPeer.available():
            peers.insert(0, CephPeer(work))
        if servers is not None:
            peers = [p for p in peers if p.name in servers]
        workloads = [w for w in WORKLOADS if only is None or w.name in only]
        running: list[Peer] = []
        try:
            for peer in peers:
                progress(f"starting {peer.name}")
                peer.start()
                running.append(peer)
            _Interleaved(running, levels, seconds, work, files, progress).run(workloads, rows)
        finally:
            for peer in running:
                peer.stop()
    order = {p.name: n for n, p in enumerate(peers)}
    rows.sort(key=lambda r: order[r.peer])  # stable: each server's rows in run order
    return rows


class _Interleaved:
    def __init__(self, peers: list[Peer], levels: list[int], seconds: float, work: Path,
                 files: Path, progress: Callable[[str], None]) -> None:
        self.peers, self.levels, self.seconds = peers, levels, seconds
        self.work, self.files, self.progress = work, files, progress
        self.failed: set[str] = set()

    def _guarded(self, peer: Peer, step: Callable[..., Any], *args: Any) -> Any:
        """`step(peer, *args)`; a Ceph failure drops Ceph from the rest of the run."""
        try:
            return step(peer, *args)
        except Exception as error:
            if not isinstance(peer, CephPeer):
                raise
            # Not ours: it may hang or fail under load. Leave it out, keep the run.
            self.failed.add(peer.name)
            self.progress(f"  {peer.name} failed ({error!r}); its remaining rows are left "
                          "out. Check it with ../shared/peers/ceph-rgw/up.sh, or stop it "
                          "to skip it.")
            return None

    def _alive(self, peers: list[Peer]) -> list[Peer]:
        return [p for p in peers if p.name not in self.failed]

    def run(self, workloads: list[Workload], rows: list[Row]) -> None:
        for peer in self.peers:
            if peer.s3:
                self._guarded(peer, _create_bucket)
        for workload in workloads:
            entries: dict[str, list[tuple[str, str]]] = {}
            for peer in self._alive([p for p in self.peers if _applies(p, workload)]):
                found = self._guarded(peer, self._prepare, workload)
                if found is not None:
                    entries[peer.name] = found
            for level in self.levels:
                for peer in self._alive([p for p in self.peers if p.name in entries]):
                    row = self._guarded(peer, self._measure, workload, level, entries)
                    if row is not None:
                        rows.append(row)

    def _prepare(self, peer: Peer, workload: Workload) -> list[tuple[str, str]]:
        if workload.populate:
            self.progress(f"  {peer.name}: preparing {workload.name}")
            if peer.s3:
                _populate_s3(peer, workload)
            else:
                _populate_plain(peer, workload, self.files)
        return _s3_entries(peer, workload) if peer.s3 else _plain_entries(workload)

    def _measure(self, peer: Peer, workload: Workload, level: int,
                 entries: dict[str, list[tuple[str, str]]]) -> Row:
        started = time.monotonic()
        busy = wait_server_core_quiet()
        if busy >= 0.1:
            self.progress(f"  the servers' core is still {busy:.0%} busy; measuring anyway")
        elif (waited := time.monotonic() - started) > 2:
            self.progress(f"  waited {waited:.0f} s for the servers' core to be idle")
        result = wrk.run(peer.url, entries[peer.name], workload.size, level,
                         max(self.seconds, workload.min_seconds), self.work)
        if result.requests == 0:
            raise RuntimeError(f"no request of {workload.name} at {level} connections "
                               f"completed ({result.errors} errors)")
        row = Row(workload.name, level, peer.name, result, workload.size)
        self.progress(f"  {peer.name:14} {workload.name:10} c={level:<3} "
                      f"{result.ops:9.1f} ops/s {row.mb_s:8.1f} MB/s "
                      f"p50 {result.p50_ms:7.2f} ms p99 {result.p99_ms:7.2f} ms"
                      + (f"  errors {result.errors}" if result.errors else ""))
        return row


def _create_bucket(peer: Peer) -> None:
    client: Any = peer.client()
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=BUCKET)


def _table(rows: list[Row]) -> list[str]:
    lines = ["| workload | conns | server | ops/s | MB/s | p50 ms | p99 ms | errors | "
             "strata ÷ this |", "|---|---|---|---|---|---|---|---|---|"]
    strata = {(r.workload, r.connections): r for r in rows if r.peer == "strata"}
    for r in rows:
        base = strata.get((r.workload, r.connections))
        ratio = (f"{base.result.ops / r.result.ops:.2f}x"
                 if base and r.peer != "strata" and r.result.ops else "")
        lines.append(
            f"| {r.workload} | {r.connections} | {r.peer} | {r.result.ops:.1f} | {r.mb_s:.1f} "
            f"| {r.result.p50_ms:.2f} | {r.result.p99_ms:.2f} | {r.result.errors} | {ratio} |")
    return lines


def _plot(rows: list[Row], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [w for w in ("put-4k", "get-4k") if any(r.workload == w for r in rows)]
    if not shown:
        return
    figure, axes = plt.subplots(2, len(shown), figsize=(6 * len(shown), 7), squeeze=False)
    for column, workload in enumerate(shown):
        for peer in ("strata", "moto", "ceph-rgw"):  # ceph-rgw where it is up
            points = sorted((r.connections, r.result.ops, r.result.p99_ms)
                            for r in rows if r.workload == workload and r.peer == peer)
            if points:
                axes[0][column].plot([p[0] for p in points], [p[1] for p in points], "o-",
                                     label=peer)
                axes[1][column].plot([p[0] for p in points], [p[2] for p in points], "o-",
                                     label=peer)
        axes[0][column].set_title(f"{workload}: ops/s")
        axes[1][column].set_title(f"{workload}: p99 latency (ms)")
        for axis in (axes[0][column], axes[1][column]):
            axis.set_xlabel("concurrent connections")
            axis.set_xscale("log", base=2)
            axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=90)


def write_report(rows: list[Row], command: str) -> Path:
    DOCS.mkdir(exist_ok=True)
    report = REPORT
    _plot(rows, DOCS / "benchmarks.png")
    machine = (f"{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}, "
               f"{platform.system()} {platform.release()}")
    report.write_text("\n".join([
        "# Benchmarks",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine}.",
        f"Command: `{command}`. Servers run pinned to core 0, wrk (one thread) to core 1;",
        "every PUT body is distinct. Requests to the S3 servers are presigned (SigV4).",
        "",
        *_table(rows),
        "",
        "![ops/s and p99 against concurrency](benchmarks.png)",
        "",
    ]))
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--only", default="", help="comma-separated workload names")
    parser.add_argument("--servers", default="", help="comma-separated server names")
    parser.add_argument("--no-report", action="store_true", help="print only")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    only = set(args.only.split(",")) if args.only else None
    servers = set(args.servers.split(",")) if args.servers else None
    rows = run_suite(args.seconds, levels, only, lambda line: print(line, flush=True), servers)
    print("\n".join(_table(rows)))
    if not args.no_report:
        print(f"\nwritten: {write_report(rows, 'make bench')}")


if __name__ == "__main__":
    main()
