"""The 3-node cluster against the embedded store, and healing time, in one run.

Run: .venv/bin/python -m bench.cluster [--objects 200] [--size-kib 1024] [--threads 8]

1. PUT then GET the same objects (distinct bodies) through boto3 with a thread pool,
   against `strata serve` (chunks on local disk) and a `strata cluster up` of three
   blob nodes in three zones (N=3, W=2): ops/s, MB/s, and the cluster's ratio.
2. Kill -9 one node of the cluster and add a fourth: the time until it is declared down
   and until every chunk is back to three replicas (GET /admin/durability).
Everything runs on this machine's two cores, client included: the figures compare
the two shapes with each other, not with a real network.
Appends its table to docs/benchmarks.md when that file exists.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.config import Config

from bench.peers import STRATA_AK, STRATA_SK, StrataPeer, free_port
from bench.report import append_section
from infra.run import cluster
from infra.settings import Settings

DOWN_AFTER = 5.0
REPLICATION_INTERVAL = 2.0


def _client(url: str) -> Any:
    return boto3.client("s3", endpoint_url=url, aws_access_key_id=STRATA_AK,
                        aws_secret_access_key=STRATA_SK, region_name="us-east-1",
                        config=Config(max_pool_connections=64, retries={"max_attempts": 3}))


def throughput(url: str, objects: int, size: int, threads: int) -> dict[str, float]:
    s3 = _client(url)
    s3.create_bucket(Bucket="bench")
    bodies = [os.urandom(16) * (size // 16) for _ in range(min(objects, 16))]

    def put(n: int) -> None:
        body = n.to_bytes(8, "big") + bodies[n % len(bodies)][8:]
        s3.put_object(Bucket="bench", Key=f"o{n}", Body=body)

    def get(n: int) -> None:
        s3.get_object(Bucket="bench", Key=f"o{n}")["Body"].read()

    results = {}
    with ThreadPoolExecutor(threads) as pool:
        for name, op in (("put", put), ("get", get)):
            started = time.perf_counter()
            list(pool.map(op, range(objects)))
            elapsed = time.perf_counter() - started
            results[f"{name}_ops"] = objects / elapsed
            results[f"{name}_mbs"] = objects * size / elapsed / 1e6
    return results


def _durability(api: str, token: str) -> dict[str, Any]:
    r = httpx.get(f"{api}/admin/durability", headers={"authorization": f"Bearer {token}"},
                  timeout=60)
    r.raise_for_status()
    return r.json()


def heal_time(root: Path, api_port: int, size_bytes: int) -> dict[str, float]:
    api = f"http://127.0.0.1:{api_port}"
    token = httpx.post(f"{api}/auth/token", json={"access_key": STRATA_AK,
                                                  "secret_key": STRATA_SK}).json()["token"]
    while _durability(api, token)["under_replicated"]:
        time.sleep(0.5)  # the writes' third replicas land first
    victim = next(p for p in cluster.load(root) if p.role == "node")
    os.kill(victim.pid, signal.SIGKILL)
    killed = time.monotonic()
    port = free_port()
    env = {**os.environ, "STRATA_CLUSTER_SECRET": (root / "cluster-secret").read_text().strip()}
    fourth = subprocess.Popen(
        [sys.executable, "-m", "infra.run.cli", "node", "--data-dir", str(root / "node-extra"),
         "--port", str(port), "--zone", "zone-d"], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        for _ in range(100):
            r = httpx.post(f"{api}/admin/nodes", json={"url": f"http://127.0.0.1:{port}"},
                           headers={"authorization": f"Bearer {token}"}, timeout=30)
            if r.status_code == 201:
                break
            time.sleep(0.2)
        declared = None
        while True:
            report = _durability(api, token)
            down = [n for n in report["nodes"] if not n["up"]]
            if down and declared is None:
                declared = time.monotonic() - killed
            if declared is not None and report["under_replicated"] == 0:
                break
            if time.monotonic() - killed > 600:
                raise TimeoutError("re-replication took over ten minutes")
            time.sleep(0.25)
        healed = time.monotonic() - killed
    finally:
        fourth.terminate()
        fourth.wait(20)
    return {"declared_down": declared or 0.0, "healed": healed,
            "rate_mbs": size_bytes / 3 / max(healed - (declared or 0.0), 1e-9) / 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=200)
    parser.add_argument("--size-kib", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    size = args.size_kib * 1024
    os.environ.update(STRATA_ROOT_ACCESS_KEY=STRATA_AK, STRATA_ROOT_SECRET_KEY=STRATA_SK,
                      STRATA_LOG_LEVEL="warning",
                      STRATA_NODE_DOWN_AFTER_SECONDS=str(DOWN_AFTER),
                      STRATA_REPLICATION_INTERVAL_SECONDS=str(REPLICATION_INTERVAL))
    with tempfile.TemporaryDirectory(prefix="strata-cluster-bench-") as tmp:
        work = Path(tmp)
        embedded = StrataPeer(work)
        embedded.start()
        try:
            print(f"embedded: {args.objects} x {args.size_kib} KiB ...", flush=True)
            alone = throughput(embedded.url, args.objects, size, args.threads)
        finally:
            embedded.stop()
        settings = replace(Settings.from_env(), s3_port=free_port(), api_port=free_port())
        root = work / "cluster"
        cluster.up(root, settings, nodes=3, zones=3, replicas=3)
        try:
            print("3-node cluster ...", flush=True)
            spread = throughput(f"http://127.0.0.1:{settings.s3_port}", args.objects, size,
                                args.threads)
            print("killing a node and adding a fourth ...", flush=True)
            heal = heal_time(root, settings.api_port, args.objects * size * 3)
        finally:
            cluster.down(root)
    lines = [
        f"{args.objects} objects of {args.size_kib} KiB, {args.threads} boto3 threads; "
        "cluster: 3 nodes in 3 zones, N=3, W=2, all on this machine.",
        "",
        "| operation | embedded | 3-node cluster | cluster / embedded |",
        "|---|---|---|---|",
    ]
    for op in ("put", "get"):
        lines.append(
            f"| {op.upper()} | {alone[f'{op}_ops']:.0f} ops/s, {alone[f'{op}_mbs']:.0f} MB/s "
            f"| {spread[f'{op}_ops']:.0f} ops/s, {spread[f'{op}_mbs']:.0f} MB/s "
            f"| {spread[f'{op}_mbs'] / alone[f'{op}_mbs']:.2f}x |")
    volume = args.objects * size / 1e6
    lines += [
        "",
        f"Healing: one node of three killed with {volume:.0f} MB of objects "
        f"({volume * 3:.0f} MB of replicas), a fourth node added. Declared down after "
        f"{heal['declared_down']:.1f} s (STRATA_NODE_DOWN_AFTER_SECONDS={DOWN_AFTER:.0f}); "
        f"every chunk back to 3 replicas {heal['healed']:.1f} s after the kill "
        f"(about {heal['rate_mbs']:.0f} MB/s of copies; "
        f"STRATA_REPLICATION_INTERVAL_SECONDS={REPLICATION_INTERVAL:.0f}).",
    ]
    print("\n".join(lines))
    append_section("Blob-node cluster", "\n".join(lines))


if __name__ == "__main__":
    main()
