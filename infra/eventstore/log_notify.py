"""Views straight from a cluster's PostgreSQL log (issue 28, STRATA_VIEWS_FROM=store):
a trigger on the events table NOTIFYs `strata_log` when a transaction adds events
(delivered at its commit, once a transaction), and a listener in each API instance
wakes its views' runner, which then reads the log after its position. The runner's
own poll covers the moments the listener's connection is down.

Following the log directly is sound because eventsourcing's PostgreSQL recorder takes
the events table's EXCLUSIVE lock to insert: positions commit in order, so a reader
never passes a position another transaction has yet to commit.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg
from psycopg import sql

log = logging.getLogger("strata.log_notify")
CHANNEL = "strata_log"
RETRY_SECONDS = 1.0


def install_log_trigger(conninfo: str, schema: str, table: str) -> None:
    """Every process of a cluster calls it at start (under the schema lock); only the
    first creates the trigger. Creating one locks the events table against inserts, so
    a process that starts while the others serve must not do it again."""
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as db:
        found = db.execute(
            "SELECT 1 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE t.tgname = 'strata_log_notify' AND c.relname = %s AND n.nspname = %s",
            (table, schema)).fetchone()
        if found is not None:
            return
        db.execute(sql.SQL(
            "CREATE OR REPLACE FUNCTION {schema}.strata_log_notify() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify({channel}, ''); "
            "RETURN NULL; END $$").format(schema=sql.Identifier(schema),
                                          channel=sql.Literal(CHANNEL)))
        db.execute(sql.SQL(
            "CREATE OR REPLACE TRIGGER strata_log_notify AFTER INSERT ON {schema}.{table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION {schema}.strata_log_notify()").format(
                schema=sql.Identifier(schema), table=sql.Identifier(table)))


class LogListener:
    """LISTEN strata_log on a connection of its own; `wake()` at each notification."""

    def __init__(self, conninfo: str, wake: Callable[[], None]) -> None:
        self._conninfo = conninfo
        self._wake = wake
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.listening = threading.Event()  # set while LISTEN is in force

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="log-listener", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True,
                                     connect_timeout=10) as db:
                    db.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
                    self.listening.set()
                    self._wake()  # what committed while it was not listening
                    while not self._stop.is_set():
                        for _ in db.notifies(timeout=0.5):
                            self._wake()
            except psycopg.Error as exc:
                self.listening.clear()
                log.warning("listening for the log's commits failed (%s); the views poll "
                            "until it is back", type(exc).__name__)
                self._stop.wait(RETRY_SECONDS)
        self.listening.clear()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
