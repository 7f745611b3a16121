"""Peak resident memory of `strata serve` during a streamed 1 GiB upload and download.

Run: .venv/bin/python -m bench.memory [--gib 1]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

AK, SK = "BENCHACCESSKEY000001", "bench-secret-key-000000000000"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gib", type=float, default=1.0)
    args = parser.parse_args()
    size = int(args.gib * 1024**3)
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "STRATA_ROOT_ACCESS_KEY": AK, "STRATA_ROOT_SECRET_KEY": SK,
               "STRATA_LOG_LEVEL": "warning"}
        proc = subprocess.Popen([sys.executable, "-m", "infra.cli", "serve", "--data-dir",
                                 f"{tmp}/data", "--api-port", "19801", "--s3-port", "19800"],
                                env=env, stdout=subprocess.DEVNULL)
        api = "http://127.0.0.1:19801"
        try:
            for _ in range(100):
                try:
                    httpx.get(f"{api}/healthz")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            token = httpx.post(f"{api}/auth/token", json={"access_key": AK, "secret_key": SK})
            h = {"authorization": f"Bearer {token.json()['token']}"}
            httpx.put(f"{api}/buckets/bench", headers=h).raise_for_status()
            baseline = rss_mib(proc.pid)
            peak = [baseline]
            done = threading.Event()

            def sample() -> None:
                while not done.is_set():
                    peak[0] = max(peak[0], rss_mib(proc.pid))
                    time.sleep(0.02)

            threading.Thread(target=sample, daemon=True).start()

            def body() -> object:
                block = os.urandom(1024 * 1024)
                sent = 0
                while sent < size:
                    piece = block[: min(len(block), size - sent)]
                    sent += len(piece)
                    if sent % (128 * 1024 * 1024) == 0:
                        print(f"  uploaded {sent // 2**20} MiB", flush=True)
                    yield piece

            t0 = time.monotonic()
            httpx.post(f"{api}/buckets/bench/upload", params={"key": "big"}, content=body(),
                       headers={**h, "content-length": str(size)}, timeout=600).raise_for_status()
            put_s = time.monotonic() - t0
            put_peak = peak[0]
            t0 = time.monotonic()
            got = 0
            with httpx.stream("GET", f"{api}/buckets/bench/big", headers=h, timeout=600) as r:
                for piece in r.iter_bytes(1024 * 1024):
                    got += len(piece)
            get_s = time.monotonic() - t0
            done.set()
            assert got == size, f"downloaded {got} of {size} bytes"
            mib = size / 2**20
            print(f"object: {mib:.0f} MiB; server RSS before: {baseline:.0f} MiB")
            print(f"PUT: {mib / put_s:.0f} MiB/s, peak RSS {put_peak:.0f} MiB "
                  f"(+{put_peak - baseline:.0f})")
            print(f"GET: {mib / get_s:.0f} MiB/s, peak RSS {peak[0]:.0f} MiB "
                  f"(+{peak[0] - baseline:.0f})")
        finally:
            proc.terminate()
            proc.wait(30)


if __name__ == "__main__":
    main()
