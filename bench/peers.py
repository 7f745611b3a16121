"""The servers a benchmark run measures, each started on loopback and pinned to core 0
(the load generator gets core 1)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import httpx
from botocore.config import Config

SERVER_CPU = "0"
STRATA_AK, STRATA_SK = "BENCHACCESSKEY000001", "bench-secret-key-000000000000"


def _core_times(core: str) -> tuple[int, int]:
    """(busy, total) jiffies of one core since boot."""
    with open("/proc/stat") as stat:
        for line in stat:
            if line.startswith(f"cpu{core} "):
                ticks = [int(t) for t in line.split()[1:9]]
                idle = ticks[3] + ticks[4]  # idle and iowait
                return sum(ticks) - idle, sum(ticks)
    raise RuntimeError(f"no cpu{core} in /proc/stat")


def wait_server_core_quiet(busy_below: float = 0.1, timeout: float = 30) -> float:
    """Until the servers' core is nearly idle over half a second: what a server still
    does after its last run (Ceph's OSD flushing its writes, say) would otherwise be
    charged to the next server measured. The core's last busy share."""
    deadline = time.monotonic() + timeout
    while True:
        busy0, total0 = _core_times(SERVER_CPU)
        time.sleep(0.5)
        busy1, total1 = _core_times(SERVER_CPU)
        share = (busy1 - busy0) / max(1, total1 - total0)
        if share < busy_below or time.monotonic() > deadline:
            return share


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listened on port {port} within {timeout} s")


@dataclass
class Peer:
    """One server under test. `s3` peers speak S3; the others take plain PUT/GET."""

    name: str
    s3: bool
    can_put: bool = True
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    access_key: str = "bench"
    secret_key: str = "bench-secret"
    workdir: Path = field(default_factory=Path)
    pinned: bool = True  # on the servers' core; else on any (a server of several processes)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def client(self) -> object:
        return boto3.client(
            "s3", endpoint_url=self.url, aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key, region_name="us-east-1",
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                          retries={"max_attempts": 2}, max_pool_connections=64),
        )

    def _spawn(self, args: list[str], env: dict[str, str] | None = None) -> None:
        log = open(self.workdir / f"{self.name}.log", "ab")  # noqa: SIM115 - lives with the process
        pinning = ["taskset", "-c", SERVER_CPU] if self.pinned else []
        self.process = subprocess.Popen([*pinning, *args], env=env,
                                        stdout=log, stderr=subprocess.STDOUT)
        _wait_for_port(self.port, self.process)

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        stop_process(self.process)


def stop_process(process: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM, and SIGKILL after 20 s if it has not ended."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


class StrataPeer(Peer):
    def __init__(self, workdir: Path) -> None:
        super().__init__("strata", s3=True, access_key=STRATA_AK, secret_key=STRATA_SK,
                         workdir=workdir)
        self.api_port = 0

    def start(self) -> None:
        self.port = free_port()
        self.api_port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("STRATA_")}
        env.update(STRATA_ROOT_ACCESS_KEY=STRATA_AK, STRATA_ROOT_SECRET_KEY=STRATA_SK,
                   STRATA_LOG_LEVEL="warning")
        self._spawn([sys.executable, "-m", "infra.run.cli", "serve", "--data-dir",
                     str(self.workdir / "strata-data"), "--s3-port", str(self.port),
                     "--api-port", str(self.api_port)], env)

    def lag(self) -> dict[str, float]:
        """Events the views and each worker (by name) have yet to handle, from /metrics."""
        text = httpx.get(f"http://127.0.0.1:{self.api_port}/metrics", timeout=30).text
        lags = {}
        for line in text.splitlines():
            if line.startswith("strata_views_lag_events "):
                lags["views"] = float(line.split()[1])
            elif m := re.fullmatch(r'strata_worker_lag_events\{worker="([^"]+)"\} (\S+)', line):
                lags[m.group(1)] = float(m.group(2))
        if "views" not in lags:
            raise RuntimeError(f"strata's /metrics gave no view lag:\n{text}")
        return lags

    def wait_caught_up(self, progress: Callable[[str], None], timeout: float = 900) -> None:
        """Until the views and the workers have handled the whole log. Started over a
        log they have not seen (one written straight through the store), they replay it
        in the background, and what is measured meanwhile shares the core with them."""
        deadline = time.monotonic() + timeout
        while (behind := {k: v for k, v in self.lag().items() if v}):
            if time.monotonic() > deadline:
                raise TimeoutError(f"strata's views and workers did not catch up with the log "
                                   f"within {timeout:.0f} s: still behind {behind}; see "
                                   f"{self.workdir / 'strata.log'}")
            progress("  waiting for strata to catch up with its log: " + ", ".join(
                f"{name} {events:,.0f} events behind" for name, events in behind.items()))
            time.sleep(5)


class MotoPeer(Peer):
    def __init__(self, workdir: Path) -> None:
        super().__init__("moto", s3=True, workdir=workdir)

    def start(self) -> None:
        self.port = free_port()
        moto = Path(sys.executable).parent / "moto_server"
        self._spawn([str(moto), "-H", "127.0.0.1", "-p", str(self.port)])


class RawFilePeer(Peer):
    """Starlette writing files with fsync: the ceiling for a Python server on this disk."""

    def __init__(self, workdir: Path) -> None:
        super().__init__("raw-starlette", s3=False, workdir=workdir)

    def start(self) -> None:
        self.port = free_port()
        self._spawn([sys.executable, "-m", "bench.raw_app", str(self.workdir / "raw"),
                     str(self.port)])


class MemoryPeer(Peer):
    """Bare Starlette answering GET from memory: the ceiling for a Python server's GET."""

    def __init__(self, workdir: Path) -> None:
        super().__init__("bare-starlette", s3=False, can_put=False, workdir=workdir)

    def start(self) -> None:
        self.port = free_port()
        self._spawn([sys.executable, "-m", "bench.memory_app", str(self.port)])


class NginxPeer(Peer):
    """nginx serving static files: the ceiling for GET on this machine."""

    def __init__(self, workdir: Path, files: Path) -> None:
        super().__init__("nginx", s3=False, can_put=False, workdir=workdir)
        self.files = files

    def start(self) -> None:
        self.port = free_port()
        conf = self.workdir / "nginx.conf"
        conf.write_text(
            "worker_processes 1; daemon off; pid " + str(self.workdir / "nginx.pid") + ";\n"
            "error_log " + str(self.workdir / "nginx-error.log") + ";\n"
            "events { worker_connections 1024; }\n"
            "http { access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;\n"
            f"  client_body_temp_path {self.workdir}/nginx-body;\n"
            f"  proxy_temp_path {self.workdir}/nginx-proxy;\n"
            f"  fastcgi_temp_path {self.workdir}/nginx-fcgi;\n"
            f"  uwsgi_temp_path {self.workdir}/nginx-uwsgi;\n"
            f"  scgi_temp_path {self.workdir}/nginx-scgi;\n"
            f"  server {{ listen 127.0.0.1:{self.port}; root {self.files}; }} }}\n"
        )
        self._spawn(["nginx", "-c", str(conf), "-p", str(self.workdir)])


class CephPeer(Peer):
    """Ceph radosgw from ../shared/peers/ceph-rgw, when it is up; never started here."""

    ENV = Path("/tmp/cephpeer/env")

    def __init__(self, workdir: Path) -> None:
        super().__init__("ceph-rgw", s3=True, workdir=workdir)

    @classmethod
    def available(cls) -> bool:
        if not cls.ENV.exists():
            return False
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", 7480)) == 0

    def start(self) -> None:
        values = dict(
            line.removeprefix("export ").split("=", 1)
            for line in self.ENV.read_text().splitlines() if "=" in line
        )
        self.port = 7480
        self.access_key = values.get("S3_MAIN_ACCESS_KEY", "").strip('"')
        self.secret_key = values.get("S3_MAIN_SECRET_KEY", "").strip('"')

    def stop(self) -> None:
        """Not ours to stop."""
