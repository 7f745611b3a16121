"""PostgreSQL in a cluster: the database is created on first start, and the bucket
gate orders object writes against a bucket's deletion across processes (shared
holders exclude an exclusive holder, and back)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from infra.eventstore.gates import PostgresBucketGate
from infra.eventstore.postgres import ensure_database
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


OPEN_AT_ONCE = """
import sys, time
from pathlib import Path
from infra.settings import Settings
from infra.run.system import open_system
data_dir, go = Path(sys.argv[2]), Path(sys.argv[3])
data_dir.mkdir()
(data_dir / "ready").touch()
while not go.exists():
    time.sleep(0.001)
open_system(Settings(data_dir=data_dir, event_store=sys.argv[1], kafka="127.0.0.1:9")).close()
"""


def test_processes_opening_the_store_at_once_all_start(postgres_url: str, tmp_path: Path
                                                       ) -> None:
    # A cluster's processes start together, each creating (or replacing) what it needs:
    # on a fresh database, and again on one whose tables exist.
    for round_ in ("fresh", "again"):
        go = tmp_path / f"go-{round_}"
        dirs = [tmp_path / f"{round_}-{n}" for n in range(4)]
        opening = [
            subprocess.Popen([sys.executable, "-c", OPEN_AT_ONCE, postgres_url, str(d), str(go)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            for d in dirs
        ]
        deadline = time.monotonic() + 60
        while not all((d / "ready").exists() for d in dirs) and time.monotonic() < deadline:
            time.sleep(0.01)
        go.touch()  # every process has imported; now all open the store at once
        outputs = [p.communicate(timeout=60)[0].decode(errors="replace") for p in opening]
        assert [p.returncode for p in opening] == [0] * 4, "\n".join(outputs)
