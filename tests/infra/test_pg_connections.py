"""A process keeps to its PostgreSQL connection budget, and one started while the
server refuses connections waits for it instead of exiting (issue 20, item 5)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from infra.settings import PgBudget, Settings, SettingsError
from tests.conftest import PG_ADMIN, Server, free_port, server_env
from tests.s3.conftest import make_client


def _connections(database: str) -> int:
    with psycopg.connect(PG_ADMIN) as db:
        row = db.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                         "AND pid <> pg_backend_pid()", (database,)).fetchone()
    return int(row[0]) if row else 0


@pytest.mark.postgres
def test_a_process_holds_no_more_connections_than_its_budget(
    postgres_url: str, tmp_path: Path
) -> None:
    database = urlsplit(postgres_url).path.lstrip("/")
    srv = Server(tmp_path / "data", free_port(), free_port(),
                 server_env(STRATA_EVENT_STORE=postgres_url, STRATA_PG_CONNECTIONS="6"))
    srv.start()
    try:
        s3 = make_client(srv)
        s3.create_bucket(Bucket="budget")
        peak, stop = [0], threading.Event()

        def watch() -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], _connections(database))
                time.sleep(0.02)

        watcher = threading.Thread(target=watch)
        watcher.start()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda n: s3.put_object(Bucket="budget", Key=f"k{n % 20}", Body=b"x"),
                          range(200)))
        stop.set()
        watcher.join()
        assert 0 < peak[0] <= 6, peak[0]
        assert s3.list_objects_v2(Bucket="budget")["KeyCount"] == 20
    finally:
        srv.stop()


def test_the_budget_is_shared_between_the_pools() -> None:
    assert PgBudget.of(10) == PgBudget(10, 1, 3, 6)
    assert PgBudget.of(4) == PgBudget(4, 1, 1, 2)
    with pytest.raises(SettingsError):
        PgBudget.of(3)
    env = Settings(event_store="postgresql://postgres@127.0.0.1:5432/x",
                   pg_connections=10).event_store_env()
    assert (env["POSTGRES_POOL_SIZE"], env["POSTGRES_MAX_OVERFLOW"]) == ("2", "4")


class Forwarder:
    """A TCP forwarder to PostgreSQL that starts listening only when asked: until then,
    the port refuses connections as a server that is down does."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def _keep(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            self._sockets.append(sock)
        return sock

    def listen(self) -> None:
        listener = self._keep(socket.create_server(("127.0.0.1", self.port)))
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client = self._keep(listener.accept()[0])
                upstream = self._keep(socket.create_connection(("127.0.0.1", 5432)))
            except OSError:
                return
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        with self._lock:
            for sock in self._sockets:
                sock.close()


@pytest.mark.postgres
def test_a_process_started_while_postgresql_is_unreachable_waits_for_it(
    postgres_url: str, tmp_path: Path
) -> None:
    forwarder = Forwarder(free_port())
    parts = urlsplit(postgres_url)
    through = urlunsplit(parts._replace(netloc=f"postgres@127.0.0.1:{forwarder.port}"))
    srv = Server(tmp_path / "data", free_port(), free_port(),
                 server_env(STRATA_EVENT_STORE=through, STRATA_PG_CONNECT_SECONDS="60"))
    starting = threading.Thread(target=srv.start, kwargs={"timeout": 90})
    starting.start()
    log_path = tmp_path / f"serve-{srv.api_port}.log"
    try:
        deadline = time.monotonic() + 60  # until the server has been refused at least once
        while "PostgreSQL refused a connection" not in (
                log_path.read_text() if log_path.exists() else ""):
            assert time.monotonic() < deadline, "the server never tried PostgreSQL"
            assert srv.process is None or srv.process.poll() is None, "it gave up"
            time.sleep(0.1)
        assert srv.process is not None and srv.process.poll() is None
        forwarder.listen()
        starting.join(90)
        assert not starting.is_alive()
        s3 = make_client(srv)
        s3.create_bucket(Bucket="waited")
        assert s3.list_buckets()["Buckets"][0]["Name"] == "waited"
    finally:
        srv.stop()
        forwarder.close()
