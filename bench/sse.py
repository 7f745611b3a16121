"""What server-side encryption costs (issue 25): 1 MiB PUTs and 64 MiB GETs through the
S3 door with SSE-S3, against the same without encryption, in one run on one server.
Target: encryption costs at most 25% of throughput.

Run: .venv/bin/python -m bench.sse [--puts 400] [--gets 12] [--concurrency 8]
Appends its table to docs/benchmarks.md when that file exists.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.peers import StrataPeer
from bench.report import append_section

MiB = 1024 * 1024


def _rate(client: Any, bucket: str, count: int, concurrency: int, size: int,
          put: bool, extra: dict[str, str]) -> float:
    """MB/s of `count` PUTs (or GETs of the objects the PUTs left) of `size` bytes."""
    body = os.urandom(size)

    def one(n: int) -> int:
        key = f"o{n % 64}" if not put else f"o{n}"
        if put:
            client.put_object(Bucket=bucket, Key=key, Body=body, **extra)
            return size
        return len(client.get_object(Bucket=bucket, Key=key)["Body"].read())

    started = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        moved = sum(pool.map(one, range(count)))
    return moved / (time.monotonic() - started) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--puts", type=int, default=400)
    parser.add_argument("--gets", type=int, default=12)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="strata-sse-") as tmp:
        peer = StrataPeer(Path(tmp))
        peer.start()
        try:
            client = peer.client()
            for name, extra in (("plaintext", {}), ("SSE-S3", {"ServerSideEncryption": "AES256"})):
                bucket = f"bench-{name.lower().replace('-', '')}"
                client.create_bucket(Bucket=bucket)
                print(f"{name}: {args.puts} PUTs of 1 MiB ...", flush=True)
                put_rate = _rate(client, bucket, args.puts, args.concurrency, MiB, True, extra)
                big = f"{bucket}-big"
                client.create_bucket(Bucket=big)
                body = os.urandom(64 * MiB)
                for n in range(min(args.gets, 64)):
                    client.put_object(Bucket=big, Key=f"o{n % 64}", Body=body, **extra)
                print(f"{name}: {args.gets} GETs of 64 MiB ...", flush=True)
                get_rate = _rate(client, big, args.gets, min(args.concurrency, 4), 64 * MiB,
                                 False, {})
                rows.append((name, put_rate, get_rate))
        finally:
            peer.stop()
    (_, plain_put, plain_get), (_, sse_put, sse_get) = rows
    lines = [
        f"One strata server; {args.puts} PUTs of 1 MiB ({args.concurrency} at a time) and "
        f"{args.gets} GETs of 64 MiB (up to 4 at a time) through boto3, per bucket.",
        "",
        "| workload | plaintext | SSE-S3 | SSE-S3 / plaintext |",
        "|---|---|---|---|",
        f"| PUT 1 MiB | {plain_put:.0f} MB/s | {sse_put:.0f} MB/s | {sse_put / plain_put:.2f} |",
        f"| GET 64 MiB | {plain_get:.0f} MB/s | {sse_get:.0f} MB/s | {sse_get / plain_get:.2f} |",
        "",
        "Target: encryption costs at most 25% of throughput (a ratio of 0.75 or more).",
    ]
    print("\n".join(lines))
    append_section("What server-side encryption costs", "\n".join(lines))


if __name__ == "__main__":
    main()
