"""Where the relay keeps its place: a row in the event store's own database.

The row holds the last log position the broker acknowledged and, per partition, the
offset of the last record it acknowledged. Offsets that go backwards mean the broker
lost its log; the relay then publishes again from the store.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson
import psycopg


@dataclass(frozen=True)
class RelayPlace:
    position: int = 0
    offsets: dict[int, int] = field(default_factory=dict)  # partition -> last acked offset
    epoch: int = 1  # counts the times the whole log was published (consumers watch it)


class RelayTracking(Protocol):
    def load(self) -> RelayPlace: ...

    def save(self, place: RelayPlace) -> None: ...


def _encode(place: RelayPlace) -> str:
    offsets = {str(p): o for p, o in place.offsets.items()}
    return orjson.dumps({"epoch": place.epoch, "offsets": offsets}).decode()


def _decode(position: int, raw: str) -> RelayPlace:
    found = orjson.loads(raw)
    offsets = {int(p): int(o) for p, o in found["offsets"].items()}
    return RelayPlace(position, offsets, int(found["epoch"]))


class _SqlRelayTracking:
    """One row in a DB-API database; `mark` is its parameter placeholder."""

    def __init__(self, db: Any, mark: str, name: str) -> None:
        self._db = db
        self._mark = mark
        self._name = name
        self._lock = threading.Lock()
        self._run("CREATE TABLE IF NOT EXISTS strata_relay "
                  "(name TEXT PRIMARY KEY, position BIGINT NOT NULL, offsets TEXT NOT NULL)")

    def _run(self, query: str, *params: Any) -> Any:
        with self._lock:
            cursor = self._db.execute(query.replace("?", self._mark), params)
            found = cursor.fetchone() if cursor.description else None
            self._db.commit()
            return found

    def load(self) -> RelayPlace:
        row = self._run("SELECT position, offsets FROM strata_relay WHERE name = ?", self._name)
        return _decode(row[0], row[1]) if row else RelayPlace()

    def save(self, place: RelayPlace) -> None:
        self._run("INSERT INTO strata_relay (name, position, offsets) VALUES (?, ?, ?) "
                  "ON CONFLICT (name) DO UPDATE SET position = excluded.position, "
                  "offsets = excluded.offsets",
                  self._name, place.position, _encode(place))

    def close(self) -> None:
        self._db.close()


class SQLiteRelayTracking(_SqlRelayTracking):
    def __init__(self, path: Path, name: str) -> None:
        super().__init__(sqlite3.connect(path, timeout=30, check_same_thread=False), "?", name)


class PostgresRelayTracking(_SqlRelayTracking):
    def __init__(self, conninfo: str, name: str) -> None:
        super().__init__(psycopg.connect(conninfo), "%s", name)
