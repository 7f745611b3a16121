"""Geo-replication in a Kafka cluster: its state in PostgreSQL, and one sender process.

- `PostgresGeoState`: the senders' positions, status and dead letters in a table of the
  event store's database (`strata_geo`), so that whichever worker sends, and every API
  instance answering a rule's status or `x-amz-replication-status`, read the same.
- `GeoLeadership`: exactly one `strata worker` at a time runs the senders, the one that
  holds a PostgreSQL advisory lock. A worker that dies loses its session and so the
  lock; another takes it within `retry_seconds` and goes on from the shared position.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

import psycopg

log = logging.getLogger("strata.geo")
LEADER_LOCK = (0x5374, 0x6765)  # pg_advisory_lock(int, int): apart from the other locks
_POSITION = b"\x00position/"


class Startable(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


class PostgresGeoState:
    """workers.geo.GeoState over one connection of its own (created on first use)."""

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._db: psycopg.Connection[Any] | None = None
        self._lock = threading.Lock()

    def _connection(self) -> psycopg.Connection[Any]:
        if self._db is None or self._db.closed:
            self._db = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=10)
            self._db.execute("CREATE TABLE IF NOT EXISTS strata_geo "
                             "(k BYTEA PRIMARY KEY, v BYTEA NOT NULL)")
        return self._db

    def _run(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                cursor = self._connection().execute(query, params)
                return list(cursor.fetchall()) if cursor.description else []
            except psycopg.OperationalError:
                if self._db is not None:  # a lost connection: the next call opens another
                    self._db.close()
                raise

    def get(self, key: bytes) -> bytes | None:
        rows = self._run("SELECT v FROM strata_geo WHERE k = %s", (key,))
        return bytes(rows[0][0]) if rows else None

    def scan(self, start: bytes, stop: bytes) -> Iterator[tuple[bytes, bytes]]:
        rows = self._run("SELECT k, v FROM strata_geo WHERE k >= %s AND k < %s ORDER BY k",
                         (start, stop))
        return iter([(bytes(k), bytes(v)) for k, v in rows])

    def position(self, name: str) -> int:
        raw = self.get(_POSITION + name.encode())
        return int(raw) if raw else 0

    def commit(self, writes: Mapping[bytes, bytes | None], positions: Mapping[str, int]
               ) -> None:
        items = {**writes, **{_POSITION + n.encode(): str(p).encode()
                              for n, p in positions.items()}}
        with self._lock:
            try:
                db = self._connection()
                with db.transaction():
                    for key, value in items.items():
                        if value is None:
                            db.execute("DELETE FROM strata_geo WHERE k = %s", (key,))
                        else:
                            db.execute("INSERT INTO strata_geo (k, v) VALUES (%s, %s) "
                                       "ON CONFLICT (k) DO UPDATE SET v = excluded.v",
                                       (key, value))
            except psycopg.OperationalError:
                if self._db is not None:
                    self._db.close()
                raise

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()


class GeoLeadership:
    """Runs `senders` while this process holds the cluster's geo lock."""

    def __init__(self, conninfo: str, senders: Startable, retry_seconds: float = 5.0) -> None:
        self._conninfo = conninfo
        self._senders = senders
        self._retry = retry_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.leading = False

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="geo-leadership", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._step_down()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True,
                                     connect_timeout=10) as db:
                    while not self._stop.is_set():
                        held = db.execute("SELECT pg_try_advisory_lock(%s, %s)",
                                          LEADER_LOCK).fetchone()
                        if held and held[0]:
                            self._lead(db)
                            return
                        self._stop.wait(self._retry)
            except psycopg.Error as exc:
                log.warning("geo-replication: the leader lock's connection failed (%s); "
                            "trying again", exc)
                self._step_down()
            self._stop.wait(self._retry)

    def _lead(self, db: psycopg.Connection[Any]) -> None:
        log.info("geo-replication: this worker sends to the other sites")
        self.leading = True
        self._senders.start()
        while not self._stop.wait(self._retry):
            db.execute("SELECT 1")  # a lost session (and so a lost lock) raises here

    def _step_down(self) -> None:
        if self.leading:
            self.leading = False
            self._senders.stop()
