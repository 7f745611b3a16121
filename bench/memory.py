"""Peak resident memory of the server during a streamed 1 GiB PUT and GET over the S3
protocol (presigned URLs), strata against moto, in one run.

Run: .venv/bin/python -m bench.memory [--gib 1] [--servers strata,moto]
Appends its table to docs/benchmarks.md when that file exists.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.peers import MotoPeer, Peer, StrataPeer
from bench.report import append_section

MiB = 1024 * 1024


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class PeakSampler:
    """Samples a process's RSS every 20 ms; `peak` is the highest seen since `reset`."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = rss_mib(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mib(self.pid))
            time.sleep(0.02)

    def reset(self) -> float:
        self.peak = rss_mib(self.pid)
        return self.peak

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@dataclass(frozen=True)
class MemoryRow:
    server: str
    baseline: float
    put_peak: float
    put_mib_s: float
    get_peak: float
    get_mib_s: float


def _body(size: int, label: str) -> Iterator[bytes]:
    block = os.urandom(MiB)
    sent = 0
    while sent < size:
        piece = block[: min(MiB, size - sent)]
        sent += len(piece)
        if sent % (256 * MiB) == 0:
            print(f"  {label}: uploaded {sent // MiB} MiB", flush=True)
        yield piece


def measure(peer: Peer, size: int) -> MemoryRow:
    client: Any = peer.client()
    client.create_bucket(Bucket="memory")
    put_url = client.generate_presigned_url(
        "put_object", Params={"Bucket": "memory", "Key": "big"}, ExpiresIn=3600)
    get_url = client.generate_presigned_url(
        "get_object", Params={"Bucket": "memory", "Key": "big"}, ExpiresIn=3600)
    sampler = PeakSampler(peer.pid)
    try:
        baseline = sampler.reset()
        started = time.monotonic()
        httpx.put(put_url, content=_body(size, peer.name),
                  headers={"content-length": str(size)}, timeout=900).raise_for_status()
        put_s = time.monotonic() - started
        put_peak = sampler.peak
        sampler.reset()
        started = time.monotonic()
        received = 0
        with httpx.stream("GET", get_url, timeout=900) as response:
            response.raise_for_status()
            for piece in response.iter_bytes(MiB):
                received += len(piece)
        get_s = time.monotonic() - started
        if received != size:
            raise RuntimeError(f"{peer.name}: downloaded {received} of {size} bytes")
        return MemoryRow(peer.name, baseline, put_peak, size / MiB / put_s, sampler.peak,
                         size / MiB / get_s)
    finally:
        sampler.stop()


def table(rows: list[MemoryRow], size: int) -> list[str]:
    lines = ["| server | object | RSS before MiB | PUT peak MiB (growth) | PUT MiB/s "
             "| GET peak MiB (growth) | GET MiB/s |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r.server} | {size // MiB} MiB | {r.baseline:.0f} | {r.put_peak:.0f} "
            f"(+{r.put_peak - r.baseline:.0f}) | {r.put_mib_s:.0f} | {r.get_peak:.0f} "
            f"(+{r.get_peak - r.baseline:.0f}) | {r.get_mib_s:.0f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--servers", default="strata,moto")
    args = parser.parse_args()
    size = int(args.gib * 1024**3)
    rows = []
    with tempfile.TemporaryDirectory(prefix="strata-memory-") as tmp:
        for peer in (StrataPeer(Path(tmp)), MotoPeer(Path(tmp))):
            if peer.name not in args.servers.split(","):
                continue
            print(f"starting {peer.name}", flush=True)
            peer.start()
            try:
                rows.append(measure(peer, size))
            finally:
                peer.stop()
    lines = table(rows, size)
    print("\n".join(lines))
    append_section("Memory: one streamed object",
                   "Peak resident memory of the server process (sampled every 20 ms) "
                   "while one object is PUT, then GET, through presigned URLs.\n\n"
                   + "\n".join(lines))


if __name__ == "__main__":
    main()
