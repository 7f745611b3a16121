"""The cell directory: which event-store cell holds each bucket name (architecture
decision 25). Rows in the home cell's database; a name, once placed, keeps its cell.

Every cell's database also records its own number, so that URLs given in another
order, or a cell dropped from the list, are refused at start instead of sending
buckets to the wrong log.
"""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

import psycopg

from domain.runtime.read_cache import NotInMemory, must_not_block
from infra.settings import SettingsError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS strata_bucket_cells (
    name text PRIMARY KEY,
    cell integer NOT NULL,
    placed_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS strata_cell_loads (
    cell integer PRIMARY KEY,
    names bigint NOT NULL DEFAULT 0
);
"""
_IDENTITY = "CREATE TABLE IF NOT EXISTS strata_cell_identity (cell integer NOT NULL)"
# pg_advisory_lock(int, int) key space: schema lock is (0x5354, 1); this is the cell's
_IDENTITY_LOCK = (0x5354, 2)
MAX_NAME = 255  # S3's names are at most 63; the directory refuses anything near a row's size


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 5432}{parts.path}"


def check_cell_identities(urls: tuple[str, ...]) -> None:
    """Record each cell's number in its own database on first start; afterwards refuse
    a list whose order or length changed. Cells may be appended, never reordered or
    removed: a bucket's cell is its number."""
    for number, url in enumerate(urls):
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as db:
            db.execute("SELECT pg_advisory_lock(%s, %s)", _IDENTITY_LOCK)
            try:
                db.execute(_IDENTITY)
                row = db.execute("SELECT cell FROM strata_cell_identity").fetchone()
                if row is None:
                    db.execute("INSERT INTO strata_cell_identity (cell) VALUES (%s)", (number,))
                elif row[0] != number:
                    raise SettingsError(
                        f"STRATA_EVENT_STORE: the database at {_where(url)} is cell {row[0]} "
                        f"but stands at place {number} in the list; keep the cells in the "
                        "order they were first given (new ones go at the end)")
            finally:
                db.execute("SELECT pg_advisory_unlock(%s, %s)", _IDENTITY_LOCK)


class CellDirectory:
    """Bucket name -> cell number, kept in the home cell (the first URL). Rows never
    change, so every answer is cached for the life of the process."""

    def __init__(self, home_url: str, cells: int) -> None:
        self._url = home_url
        self._cells = cells
        self._known: dict[str, int] = {}
        self._guard = threading.Lock()
        with self._connect() as db:
            db.execute("SELECT pg_advisory_lock(%s, %s)", _IDENTITY_LOCK)
            try:
                db.execute(_SCHEMA)
                for cell in range(cells):  # a cell added later starts at no names
                    db.execute("INSERT INTO strata_cell_loads (cell) VALUES (%s) "
                               "ON CONFLICT DO NOTHING", (cell,))
                beyond = db.execute("SELECT min(cell) FROM strata_bucket_cells "
                                    "WHERE cell >= %s", (cells,)).fetchone()
            finally:
                db.execute("SELECT pg_advisory_unlock(%s, %s)", _IDENTITY_LOCK)
        if beyond is not None and beyond[0] is not None:
            raise SettingsError(
                f"STRATA_EVENT_STORE names {cells} database(s), but buckets live in cell "
                f"{beyond[0]}: a cell may be added, never removed")

    def _connect(self) -> psycopg.Connection[tuple[int, ...]]:
        return psycopg.connect(self._url, autocommit=True, connect_timeout=10)

    def cell_of(self, name: str) -> int | None:
        """The cell a name was placed in, or None when it never was."""
        with self._guard:
            if name in self._known:
                return self._known[name]
        if must_not_block():  # on the event loop: the caller asks again in a thread
            raise NotInMemory
        with self._connect() as db:
            row = db.execute("SELECT cell FROM strata_bucket_cells WHERE name = %s",
                             (name,)).fetchone()
        if row is None:
            return None
        return self._remember(name, row[0])

    def place(self, name: str) -> int:
        """The name's cell, placing it in the cell with the fewest names when it has
        none. Racing placements of one name, from any process, all get the same cell:
        the first insert wins and the others read it back."""
        if not 0 < len(name) <= MAX_NAME:
            raise ValueError(f"a bucket name is 1 to {MAX_NAME} characters")
        found = self.cell_of(name)
        if found is not None:
            return found
        with self._connect() as db:
            with db.transaction():
                least = db.execute("SELECT cell FROM strata_cell_loads WHERE cell < %s "
                                   "ORDER BY names, cell LIMIT 1", (self._cells,)).fetchone()
                chosen = int(least[0]) if least is not None else 0
                # waits for a racing insert of the same name to commit, then skips it
                inserted = db.execute(
                    "INSERT INTO strata_bucket_cells (name, cell) VALUES (%s, %s) "
                    "ON CONFLICT (name) DO NOTHING RETURNING cell", (name, chosen)).fetchone()
                if inserted is not None:
                    db.execute("UPDATE strata_cell_loads SET names = names + 1 "
                               "WHERE cell = %s", (chosen,))
                    return self._remember(name, chosen)
            # another placement won: its row is committed, and read in a new statement
            row = db.execute("SELECT cell FROM strata_bucket_cells WHERE name = %s",
                             (name,)).fetchone()
        if row is None:
            raise RuntimeError(f"bucket {name!r}: its cell's row vanished")  # rows stay
        return self._remember(name, int(row[0]))

    def _remember(self, name: str, cell: int) -> int:
        with self._guard:
            self._known[name] = cell
        return cell
