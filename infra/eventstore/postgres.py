"""PostgreSQL for a cluster's event store: the database is created on first start."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import psycopg
from eventsourcing.persistence import PersistenceError
from psycopg import sql
from psycopg_pool import PoolTimeout

from infra.settings import Settings, SettingsError

log = logging.getLogger("strata")
T = TypeVar("T")

# pg_advisory_lock(int, int): a key space of its own, apart from the bucket gates' bigints
SCHEMA_LOCK = (0x5354, 1)  # "ST", 1


def ensure_database(url: str) -> None:
    """Create the database `url` names unless it exists (the server must be reachable)."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/") or "strata"
    admin = urlunsplit(parts._replace(path="/postgres"))
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=10) as db:
            found = db.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if found is None:
                db.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                log.info("created the PostgreSQL database %s", name)
    except psycopg.errors.DuplicateDatabase:
        pass  # another process of the cluster created it first
    except psycopg.OperationalError as exc:
        raise SettingsError(
            f"STRATA_EVENT_STORE: cannot reach PostgreSQL at {parts.hostname}:{parts.port or 5432}"
            f" ({exc}); start it, or fix the URL"
        ) from None


def prepared_store_env(settings: Settings) -> dict[str, str]:
    """The event store's `env` for ObjectStore, with PostgreSQL's database created on
    first start (a bad URL is refused before anything is touched)."""
    env = settings.event_store_env()
    if settings.event_store:
        ensure_database(settings.event_store)
    return env


@contextmanager
def schema_lock(settings: Settings, url: str = "") -> Iterator[None]:
    """Held while a process creates the tables it needs (in `url`, by default the event
    store's). A cluster's processes start at once, and PostgreSQL's CREATE ... IF NOT
    EXISTS is not safe against a concurrent one: an API instance failed its start with
    "tuple concurrently updated"."""
    url = url or settings.event_store
    if not url:
        yield
        return
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as db:
        db.execute("SELECT pg_advisory_lock(%s, %s)", SCHEMA_LOCK)
        try:
            yield
        finally:
            db.execute("SELECT pg_advisory_unlock(%s, %s)", SCHEMA_LOCK)


def retrying_connections(settings: Settings, connect: Callable[[], T]) -> T:
    """`connect()`, tried again with backoff for up to STRATA_PG_CONNECT_SECONDS while
    PostgreSQL refuses connections (down, restarting, or out of connections: "too many
    clients already"), so a role started at the wrong moment waits instead of exiting."""
    deadline = time.monotonic() + settings.pg_connect_seconds
    delay = 0.5
    while True:
        try:
            return connect()
        except (psycopg.OperationalError, PoolTimeout, PersistenceError, SettingsError) as exc:
            if not settings.event_store or time.monotonic() + delay > deadline:
                raise
            log.warning("PostgreSQL refused a connection (%s); trying again in %.1f s",
                        str(exc).strip().splitlines()[0][:200], delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
