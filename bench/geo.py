"""Geo-replication between two local sites: how fast, how far behind, how little travels.

Run: .venv/bin/python -m bench.geo [--small 3000] [--large 200] [--steady-seconds 30]
                                   [--rate 40]

Two `strata serve` processes on loopback, site-a and site-b, site-b registered on
site-a. Every figure is read from site-a's replication status and /metrics.
1. throughput: a bucket filled with N objects (4 KiB, then 1 MiB), then a rule added:
   the time until site-b holds them all (the rule's existing-object pass, the same
   sending path as the live stream). The peer, measured in the same run on the same
   objects: `rclone copy` from site-a's S3 door to site-b's (8 transfers), what an
   object-by-object replicator does.
2. lag under a steady write load: 4 KiB PUTs at a fixed rate to a replicated bucket,
   site-a's strata_geo_lag_seconds sampled every half second.
3. one chunk changed: a 256 MiB object replicated, then written again with 8 MiB of it
   changed (one chunk): the bytes sent the second time.
4. failover: the steady load again, site-a killed with SIGKILL mid-load; the lag at the
   kill (the RPO bound), and which acknowledged writes are missing on site-b.
Appends its section to docs/benchmarks.md when a suite run made one.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from bench.peers import STRATA_AK, STRATA_SK, free_port, stop_process
from bench.report import append_section

MiB = 1024 * 1024
CHUNK = 8 * MiB
TIMEOUT = 900.0


def say(text: str) -> None:
    print(text, flush=True)


@dataclass
class Site:
    name: str
    workdir: Path
    api_port: int = field(default_factory=free_port)
    s3_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def s3_url(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STRATA_")}
        env.update(STRATA_ROOT_ACCESS_KEY=STRATA_AK, STRATA_ROOT_SECRET_KEY=STRATA_SK,
                   STRATA_LOG_LEVEL="warning", STRATA_SITE_NAME=self.name,
                   STRATA_GEO_RETRY_MAX_SECONDS="2")
        log = open(self.workdir / f"{self.name}.log", "ab")  # noqa: SIM115 - lives with the process
        self.process = subprocess.Popen(
            [sys.executable, "-m", "infra.run.cli", "serve", "--data-dir",
             str(self.workdir / self.name), "--api-port", str(self.api_port),
             "--s3-port", str(self.s3_port)], env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.api}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start; see {self.workdir / self.name}.log")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        stop_process(self.process)

    def admin(self) -> httpx.Client:
        r = httpx.post(f"{self.api}/auth/token",
                       json={"access_key": STRATA_AK, "secret_key": STRATA_SK})
        r.raise_for_status()
        return httpx.Client(base_url=self.api, timeout=60,
                            headers={"authorization": f"Bearer {r.json()['token']}"})

    def s3(self) -> Any:
        return boto3.client(
            "s3", endpoint_url=self.s3_url, aws_access_key_id=STRATA_AK,
            aws_secret_access_key=STRATA_SK, region_name="us-east-1",
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                          retries={"max_attempts": 2}, max_pool_connections=16))

    def metric(self, name: str, site: str) -> float:
        text = httpx.get(f"{self.api}/metrics", timeout=30).text
        prefix = f'{name}{{site="{site}"}} '
        for line in text.splitlines():
            if line.startswith(prefix):
                return float(line[len(prefix):])
        raise RuntimeError(f"{name} for {site} is not in {self.name}'s /metrics")


class Bench:
    def __init__(self, a: Site, b: Site) -> None:
        self.a, self.b = a, b
        self.api_a, self.api_b = a.admin(), b.admin()

    def bucket_pair(self, name: str, rule: bool) -> None:
        for api in (self.api_a, self.api_b):
            assert api.put(f"/buckets/{name}").status_code in (200, 201)
            r = api.put(f"/buckets/{name}/versioning", json={"status": "Enabled"})
            r.raise_for_status()
        if rule:
            self.rule(name)

    def rule(self, name: str) -> None:
        r = self.api_a.put(f"/buckets/{name}/replication", json={"rules": [{
            "id": "r1", "prefix": "", "destination": {"site": "site-b", "bucket": name},
            "delete_markers": True}]})
        r.raise_for_status()

    def status(self, bucket: str) -> dict[str, Any]:
        r = self.api_a.get(f"/buckets/{bucket}/replication/status")
        r.raise_for_status()
        return dict(r.json()["rules"][0])

    def wait_replicated(self, bucket: str, what: str) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        shown = 0.0
        while time.monotonic() < deadline:
            status = self.status(bucket)
            existing = status["existing_objects"]
            if status["lag_events"] == 0 and (existing is None or existing["state"] == "done"):
                return status
            if time.monotonic() - shown > 5:
                say(f"  {what}: {status['applied']:,} changes applied, lag "
                    f"{status['lag_events']} events")
                shown = time.monotonic()
            time.sleep(0.05)
        raise TimeoutError(f"{what} did not replicate in {TIMEOUT:.0f} s")

    # -- 1 ---------------------------------------------------------------------------

    def throughput(self, count: int, size: int, label: str) -> dict[str, float]:
        bucket = f"fill-{label.lower().replace(' ', '')}"
        self.bucket_pair(bucket, rule=False)
        s3 = self.a.s3()
        say(f"throughput, {label}: writing {count:,} objects to site-a")

        def put(i: int) -> None:
            s3.put_object(Bucket=bucket, Key=f"obj/{i:06d}", Body=os.urandom(size))
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(put, range(count)))
        started = time.monotonic()
        self.rule(bucket)
        self.wait_replicated(bucket, f"geo-replication of {label}")
        geo_seconds = time.monotonic() - started
        assert len(list_keys(self.b.s3(), bucket)) == count, "site-b lacks objects"
        rclone_seconds = self.rclone(bucket, count)
        megabytes = count * size / MiB
        return {"count": count, "size": size, "geo_s": geo_seconds,
                "geo_ops": count / geo_seconds, "geo_mbs": megabytes / geo_seconds,
                "rclone_s": rclone_seconds, "rclone_ops": count / rclone_seconds,
                "rclone_mbs": megabytes / rclone_seconds}

    def rclone(self, bucket: str, count: int) -> float:
        target = f"{bucket}-rclone"
        assert self.api_b.put(f"/buckets/{target}").status_code in (200, 201)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["RCLONE_CONFIG"] = str(self.a.workdir / "rclone.conf")
        for remote, site in (("A", self.a), ("B", self.b)):
            env.update({f"RCLONE_CONFIG_{remote}_TYPE": "s3",
                        f"RCLONE_CONFIG_{remote}_PROVIDER": "Other",
                        f"RCLONE_CONFIG_{remote}_ENDPOINT": site.s3_url,
                        f"RCLONE_CONFIG_{remote}_ACCESS_KEY_ID": STRATA_AK,
                        f"RCLONE_CONFIG_{remote}_SECRET_ACCESS_KEY": STRATA_SK,
                        f"RCLONE_CONFIG_{remote}_REGION": "us-east-1"})
        say(f"  the peer: rclone copy of {count:,} objects from site-a to site-b")
        started = time.monotonic()
        subprocess.run(["rclone", "copy", f"A:{bucket}", f"B:{target}", "--transfers", "8",
                        "--checkers", "8", "--s3-no-check-bucket"], env=env, check=True,
                       timeout=TIMEOUT)
        seconds = time.monotonic() - started
        assert len(list_keys(self.b.s3(), target)) == count, "rclone left objects out"
        return seconds

    # -- 2 and 4 ---------------------------------------------------------------------

    def steady(self, bucket: str, seconds: float, rate: float,
               kill_after: float | None = None) -> dict[str, Any]:
        self.bucket_pair(bucket, rule=True)
        s3 = self.a.s3()
        acknowledged: list[tuple[float, str]] = []
        samples: list[tuple[float, float]] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                with contextlib.suppress(httpx.HTTPError, RuntimeError):  # site-a killed
                    samples.append((time.monotonic(),
                                    self.a.metric("strata_geo_lag_seconds", "site-b")))
                stop.wait(0.5)

        def write(worker: int) -> None:
            period, n = 4 / rate, 0
            next_at = time.monotonic()
            while not stop.is_set():
                key = f"w{worker}/{n:06d}"
                try:
                    s3.put_object(Bucket=bucket, Key=key, Body=os.urandom(4096))
                except (BotoCoreError, ClientError):  # site-a was killed: not acknowledged
                    return
                acknowledged.append((time.monotonic(), key))
                n += 1
                next_at += period
                stop.wait(max(0.0, next_at - time.monotonic()))

        sampler = threading.Thread(target=sample)
        writers = [threading.Thread(target=write, args=(w,)) for w in range(4)]
        started = time.monotonic()
        sampler.start()
        for writer in writers:
            writer.start()
        killed_at = None
        if kill_after is not None:
            time.sleep(kill_after)
            killed_at = time.monotonic()
            self.a.kill()
        else:
            time.sleep(seconds)
        stop.set()
        for thread in (*writers, sampler):
            thread.join()
        result: dict[str, Any] = {"writes": len(acknowledged),
                                  "rate": len(acknowledged) / ((killed_at or time.monotonic())
                                                               - started)}
        lags = [lag for _, lag in samples]
        result["lag_median"] = statistics.median(lags) if lags else 0.0
        result["lag_max"] = max(lags, default=0.0)
        if killed_at is None:
            self.wait_replicated(bucket, "the steady load's tail")
            return result
        result["lag_at_kill"] = lags[-1] if lags else 0.0
        time.sleep(3)  # whatever was in flight to site-b has landed or not by now
        on_b = set(list_keys(self.b.s3(), bucket))
        missing = [(at, key) for at, key in acknowledged if key not in on_b]
        result["missing"] = len(missing)
        result["missing_window"] = (killed_at - min(at for at, _ in missing)) if missing else 0.0
        self.a.start()  # back: it sends the rest
        self.wait_replicated(bucket, "site-a's backlog after its restart")
        on_b = set(list_keys(self.b.s3(), bucket))
        result["missing_after_restart"] = sum(1 for _, key in acknowledged if key not in on_b)
        return result

    # -- 3 ---------------------------------------------------------------------------

    def one_chunk_changed(self) -> dict[str, float]:
        bucket = "big"
        self.bucket_pair(bucket, rule=True)
        s3 = self.a.s3()
        body = bytearray(os.urandom(256 * MiB))
        say("one chunk changed: a 256 MiB object to site-a and on to site-b")
        s3.put_object(Bucket=bucket, Key="disk.img", Body=bytes(body))
        first = self.wait_replicated(bucket, "the 256 MiB object")["bytes_sent"]
        body[5 * CHUNK:5 * CHUNK + 4096] = os.urandom(4096)  # inside the sixth chunk
        s3.put_object(Bucket=bucket, Key="disk.img", Body=bytes(body))
        status = self.wait_replicated(bucket, "its second version")
        got = self.b.s3().get_object(Bucket=bucket, Key="disk.img")["Body"].read()
        assert got == bytes(body), "site-b's copy differs"
        return {"first": first, "second": status["bytes_sent"] - first,
                "skipped": status["chunks_skipped"]}


def list_keys(s3: Any, bucket: str) -> list[str]:
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


def report(throughput: list[dict[str, float]], steady: dict[str, Any],
           chunk: dict[str, float], failover: dict[str, Any]) -> str:
    lines = ["Two `strata serve` processes on loopback (site-a sends, site-b receives), "
             "the clients on the same 2-core machine. Command: `.venv/bin/python -m "
             "bench.geo`.", "",
             "| objects | geo-replication | objects/s | MB/s | rclone copy (peer) | "
             "objects/s | MB/s | ratio |", "|---|---|---|---|---|---|---|---|"]
    for t in throughput:
        size = f"{t['count']:,.0f} x {t['size'] / 1024:,.0f} KiB"
        lines.append(f"| {size} | {t['geo_s']:.1f} s | {t['geo_ops']:,.0f} | "
                     f"{t['geo_mbs']:,.1f} | {t['rclone_s']:.1f} s | {t['rclone_ops']:,.0f} | "
                     f"{t['rclone_mbs']:,.1f} | {t['rclone_s'] / t['geo_s']:.1f}x |")
    lines += [
        "",
        f"- Lag under a steady load of {steady['rate']:.0f} 4 KiB PUTs/s "
        f"({steady['writes']:,} writes): median {steady['lag_median']:.2f} s, "
        f"max {steady['lag_max']:.2f} s.",
        f"- A 256 MiB object: {chunk['first'] / MiB:,.1f} MiB sent the first time; written "
        f"again with 4 KiB changed inside one 8 MiB chunk, {chunk['second'] / MiB:,.1f} MiB "
        f"sent ({chunk['skipped']:.0f} chunks skipped in all).",
        f"- Failover: site-a killed (SIGKILL) after {failover['writes']:,} acknowledged "
        f"writes at {failover['rate']:.0f}/s; lag at the kill {failover['lag_at_kill']:.2f} s; "
        f"{failover['missing']} acknowledged writes were not on site-b (the oldest "
        f"{failover['missing_window']:.2f} s before the kill); once site-a was back, "
        f"{failover['missing_after_restart']} missing.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=3000, help="4 KiB objects")
    parser.add_argument("--large", type=int, default=200, help="1 MiB objects")
    parser.add_argument("--steady-seconds", type=float, default=30)
    parser.add_argument("--rate", type=float, default=40, help="PUTs a second, steady load")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="strata-geo-") as tmp:
        a, b = Site("site-a", Path(tmp)), Site("site-b", Path(tmp))
        try:
            a.start()
            b.start()
            bench = Bench(a, b)
            r = bench.api_a.put("/admin/sites/site-b", json={
                "endpoint": b.api, "access_key": STRATA_AK, "secret_key": STRATA_SK})
            r.raise_for_status()
            throughput = [bench.throughput(args.small, 4096, "4 KiB"),
                          bench.throughput(args.large, MiB, "1 MiB")]
            say(f"steady load: {args.rate:.0f} PUTs/s for {args.steady_seconds:.0f} s")
            steady = bench.steady("steady", args.steady_seconds, args.rate)
            chunk = bench.one_chunk_changed()
            say("failover: site-a killed under the steady load")
            failover = bench.steady("failover", 0, args.rate, kill_after=10)
        finally:
            a.stop()
            b.stop()
    text = report(throughput, steady, chunk, failover)
    say("\n" + text)
    append_section("Geo-replication (two local sites)", text)


if __name__ == "__main__":
    main()
