from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from domain.access import canned_acl
from domain.records import RequestMeta, Version
from infra.run.system import System, open_system
from infra.settings import Settings

ROOT_AK = "ROOTACCESSKEY0000001"
ROOT_SK = "root-secret-key-for-tests-000000000000"
META: RequestMeta = {"actor": "test", "request_id": "t", "source": "127.0.0.1", "user_agent": "t"}
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


def now() -> datetime:
    return datetime.now(UTC)


def version(version_id: str = "v", digest: str = "ab" * 32, size: int = 3) -> Version:
    return {
        "version_id": version_id, "is_delete_marker": False, "created_at": now().isoformat(),
        "owner": "alice", "size": size, "etag": "e", "sha256": "",
        "chunks": [{"digest": digest, "size": size}] if size else [],
        "content_type": "text/plain", "headers": {}, "user_metadata": {},
        "acl": canned_acl("private", "alice"),
    }


def marker(version_id: str = "m") -> Version:
    v = version(version_id, size=0)
    return {**v, "is_delete_marker": True}


@contextlib.contextmanager
def postgres_databases(count: int) -> Iterator[list[str]]:
    """`count` new databases on the local server, dropped afterwards."""
    names = [f"strata_test_{uuid.uuid4().hex[:12]}" for _ in range(count)]
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        for name in names:
            conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield [f"postgresql://postgres@127.0.0.1:5432/{name}" for name in names]
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with postgres_databases(1) as urls:
        yield urls[0]


@pytest.fixture
def postgres_cells() -> Iterator[list[str]]:
    """Three databases: an event store's cells (architecture decision 25)."""
    with postgres_databases(3) as urls:
        yield urls


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    base = Settings(
        data_dir=tmp_path / "data", root_access_key=ROOT_AK, root_secret_key=ROOT_SK,
        gc_grace_seconds=0.5, gc_interval_seconds=0.2, chunk_size=64 * 1024,
    )
    if request.param == "postgres":
        base = replace(base, event_store=request.getfixturevalue("postgres_url"))
    return base


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", root_access_key=ROOT_AK, root_secret_key=ROOT_SK,
        gc_grace_seconds=0.5, gc_interval_seconds=0.2, chunk_size=64 * 1024,
    )


@pytest.fixture
def system(settings: Settings) -> Iterator[System]:
    opened = open_system(settings)
    opened.start()
    try:
        yield opened
    finally:
        opened.close()


def metric_value(text: str, series: str) -> float:
    """One series' value from a /metrics page's text (`name` or `name{label="..."}`)."""
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[1])
    raise AssertionError(f"{series} is not in /metrics:\n{text}")


def stored_chunks(data_dir: Path) -> set[str]:
    """The digests of every chunk an embedded store holds: its files and its pack's rows
    (read as another process would, while the server may be writing)."""
    layout = Settings(data_dir=data_dir)
    found = {p.name for p in layout.blob_dir.glob("??/*")}
    pack = layout.chunk_pack_path
    if pack.exists():
        with contextlib.closing(sqlite3.connect(pack)) as db:
            found |= {digest for (digest,) in db.execute("SELECT digest FROM chunks")}
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PortTaken(RuntimeError):
    """The server could not bind a port it was given."""


@dataclass
class Server:
    """A real `strata serve` process on loopback."""

    data_dir: Path
    api_port: int
    s3_port: int
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    command: str = "serve"  # or "api": a cluster's API instance
    scheme: str = "http"  # "https": the server has TLS on (its env says how)
    verify: str | bool = True  # with TLS: the CA file clients trust
    args: tuple[str, ...] = ()  # more of the command's options, such as ("--workers", "2")

    @property
    def http_verify(self) -> ssl.SSLContext | bool:
        """What httpx wants for `verify` (boto3 takes the CA file's path)."""
        if isinstance(self.verify, str):
            return ssl.create_default_context(cafile=self.verify)
        return self.verify

    @property
    def api(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.api_port}"

    @property
    def s3(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.s3_port}"

    def start(self, timeout: float = 30, attempts: int = 3) -> None:
        """A port free_port() chose can be taken (by another process's outgoing
        connection) before the server binds it: then new ports are tried."""
        for attempt in range(1, attempts + 1):
            try:
                return self._start_once(timeout)
            except PortTaken:
                if attempt == attempts:
                    raise
                self.api_port, self.s3_port = free_port(), free_port()

    def _start_once(self, timeout: float) -> None:
        log_path = self.data_dir.parent / f"{self.command}-{self.api_port}.log"
        with open(log_path, "ab") as log:
            logged_before = log.tell()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "infra.run.cli", self.command,
                 "--data-dir", str(self.data_dir),
                 "--api-port", str(self.api_port), "--s3-port", str(self.s3_port),
                 *self.args],
                env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                with open(log_path, "rb") as log:
                    log.seek(logged_before)
                    if b"address already in use" in log.read():
                        raise PortTaken(f"port {self.api_port} or {self.s3_port} was taken")
                raise RuntimeError(f"strata {self.command} exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.api}/healthz", timeout=1,
                             verify=self.http_verify).status_code == 200:
                    return
            except (httpx.TransportError, FileNotFoundError):  # a CA file not made yet
                pass
            time.sleep(0.1)
        raise TimeoutError("strata serve did not answer /healthz in time")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def token(self, access_key: str = ROOT_AK, secret_key: str = ROOT_SK) -> dict[str, str]:
        r = httpx.post(f"{self.api}/auth/token", verify=self.http_verify,
                       json={"access_key": access_key, "secret_key": secret_key})
        r.raise_for_status()
        return {"authorization": f"Bearer {r.json()['token']}"}


@contextlib.contextmanager
def running(srv: Server) -> Iterator[Server]:
    """`srv` started, and stopped afterwards whatever happens: a fixture's server."""
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def server_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRATA_", "AWS_"))}
    env.update(STRATA_ROOT_ACCESS_KEY=ROOT_AK, STRATA_ROOT_SECRET_KEY=ROOT_SK,
               STRATA_GC_GRACE_SECONDS="1", STRATA_GC_INTERVAL_SECONDS="0.5",
               STRATA_CHUNK_SIZE=str(256 * 1024), STRATA_LOG_LEVEL="warning")
    env.update(extra)  # a test's own settings win
    return env


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "data", free_port(), free_port(), server_env())
    with running(srv):
        yield srv


def wait_until(condition: Callable[[], Any], timeout: float,
               what: str | Callable[[], str]) -> None:
    """Poll `condition` until it holds; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what() if callable(what) else what
        time.sleep(0.1)


def start_together(processes: Sequence[Any]) -> None:
    """Call every `start()` at once: a test process's start-up is mostly imports, which
    the cores share. Every start is waited for; the first failure is raised."""
    with ThreadPoolExecutor(max_workers=len(processes)) as pool:
        for started in [pool.submit(process.start) for process in processes]:
            started.result()
