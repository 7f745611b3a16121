"""Geo-replication's parts for the Kafka cluster shape, against this machine's PostgreSQL:
the senders' shared state keeps what the views' state keeps, and one process at a time
leads (sends); a leader that dies or loses its session hands over. The whole cluster
is tested in tests/kafka/test_geo.py (slow)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import psycopg
import pytest

from infra.geo.pg_state import GeoLeadership, PostgresGeoState
from projections.base import InMemoryViewStore
from tests.conftest import wait_until

BOUND = 30  # seconds; the leadership retries every 0.2 s here


class Senders:
    """A Startable of our own, standing in for GeoReplication."""

    def __init__(self) -> None:
        self.running = threading.Event()
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        self.running.set()

    def stop(self) -> None:
        self.running.clear()


@pytest.fixture
def state(postgres_url: str) -> Iterator[PostgresGeoState]:
    found = PostgresGeoState(postgres_url)
    try:
        yield found
    finally:
        found.close()


def test_the_shared_state_keeps_what_the_views_state_keeps(
        state: PostgresGeoState, postgres_url: str) -> None:
    views = InMemoryViewStore()
    steps: list[tuple[dict[bytes, bytes | None], dict[str, int]]] = [
        ({b"X/geo/eu": b"{}", b"D/geo:eu/1": b"a", b"D/geo:eu/2": b"\xff\x00b"}, {"geo:eu": 7}),
        ({b"D/geo:eu/1": None, b"X/geo/us": b"{1}"}, {"geo:eu": 9, "geo:us": 3}),
    ]
    for writes, positions in steps:
        for store in (views, state):
            store.commit(writes, positions)
        for key in (b"X/geo/eu", b"D/geo:eu/1", b"D/geo:eu/2", b"X/geo/us", b"nothing"):
            assert state.get(key) == views.get(key)
        for name in ("geo:eu", "geo:us", "geo:asia"):
            assert state.position(name) == views.position(name)
        for start, stop in ((b"D/", b"D0"), (b"X/geo/", b"X/geo0")):
            assert list(state.scan(start, stop)) == list(views.scan(start, stop))

    # a lost session: the call that finds it fails, the next opens another
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                      "datname = current_database() AND pid <> pg_backend_pid()")
    with pytest.raises(psycopg.OperationalError):
        state.get(b"X/geo/eu")
    assert state.get(b"X/geo/eu") == b"{}"


def test_one_process_leads_and_hands_over_when_it_stops_or_loses_its_session(
        postgres_url: str) -> None:
    senders = [Senders(), Senders()]
    leaders = [GeoLeadership(postgres_url, s, retry_seconds=0.2) for s in senders]
    try:
        for leader in leaders:
            leader.start()
        wait_until(lambda: any(s.running.is_set() for s in senders), BOUND, "a leader")
        time.sleep(1)  # several retries of the other: still one leader
        assert [s.running.is_set() for s in senders].count(True) == 1
        first = 0 if senders[0].running.is_set() else 1
        other = 1 - first

        # the leader's session ends (a killed process, a restarted database)
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                          "datname = current_database() AND pid <> pg_backend_pid() AND "
                          "query LIKE 'SELECT 1%'")
        wait_until(lambda: senders[other].running.is_set(), BOUND, "the other takes over")
        wait_until(lambda: not senders[first].running.is_set(), BOUND,
                   "the old leader stops sending")

        leaders[other].stop()  # a leader that stops hands over too
        wait_until(lambda: senders[first].running.is_set(), BOUND, "the first leads again")
        assert not senders[other].running.is_set()
        assert senders[first].starts == 2
    finally:
        for leader in leaders:
            leader.stop()
