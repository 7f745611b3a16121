"""PostgreSQL in a cluster: the database is created on first start, and the bucket
gate orders object writes against a bucket's deletion across processes (shared
holders exclude an exclusive holder, and back)."""

from __future__ import annotations

import threading
import time
import uuid

import psycopg
import pytest

from infra.gates import PostgresBucketGate
from infra.postgres import ensure_database
from infra.settings import SettingsError
from tests.conftest import PG_ADMIN

pytestmark = pytest.mark.postgres


def test_a_deletion_waits_for_writes_in_flight_and_writes_wait_for_a_deletion(
    postgres_url: str,
) -> None:
    one, other = PostgresBucketGate(postgres_url), PostgresBucketGate(postgres_url)
    order: list[str] = []
    try:
        with one.shared("photos"), other.shared("photos"):  # writes share the bucket
            deleting = threading.Thread(target=lambda: _hold(other, "photos", order))
            deleting.start()
            time.sleep(0.3)
            order.append("writes done")
        deleting.join(10)
        assert order == ["writes done", "deleted"]
        with other.exclusive("photos"):
            writing = threading.Thread(target=lambda: _write(one, "photos", order))
            writing.start()
            time.sleep(0.3)
            order.append("deleted again")
        writing.join(10)
        assert order[-2:] == ["deleted again", "written"]
        with one.exclusive("other-bucket"), other.shared("photos"):
            pass  # other buckets are not held up
    finally:
        one.close()
        other.close()


def _hold(gate: PostgresBucketGate, bucket: str, order: list[str]) -> None:
    with gate.exclusive(bucket):
        order.append("deleted")


def _write(gate: PostgresBucketGate, bucket: str, order: list[str]) -> None:
    with gate.shared(bucket):
        order.append("written")


def test_the_event_store_database_is_created_on_first_start() -> None:
    name = f"strata_first_{uuid.uuid4().hex[:10]}"
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    try:
        ensure_database(url)
        ensure_database(url)  # a second start finds it
        with psycopg.connect(PG_ADMIN) as db:
            assert db.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                              (name,)).fetchone() == (1,)
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_an_unreachable_server_is_a_clear_settings_error() -> None:
    with pytest.raises(SettingsError, match=r"cannot reach PostgreSQL at 127\.0\.0\.1:1"):
        ensure_database("postgresql://postgres@127.0.0.1:1/strata")
