"""The event store contract at the recorder level, against SQLite (the embedded log) and
PostgreSQL: optimistic concurrency, atomic saves of several aggregates, and one
gap-free, ordered notification log."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from domain.application import ObjectStore
from infra.settings import Settings


def _event(originator: object, version: int, topic: str = "tests:Happened") -> StoredEvent:
    return StoredEvent(originator_id=originator, originator_version=version, topic=topic,
                       state=b'{"n": %d}' % version)


class EventStoreContract:
    def test_an_aggregate_s_events_come_back_in_order(self, store: ObjectStore) -> None:
        one = uuid4()
        store.recorder.insert_events([_event(one, 1), _event(one, 2)])
        store.recorder.insert_events([_event(one, 3)])
        stored = store.recorder.select_events(one)
        assert [e.originator_version for e in stored] == [1, 2, 3]
        assert stored[2].state == b'{"n": 3}'

    def test_a_version_written_twice_is_refused_and_the_loser_stores_nothing(
        self, store: ObjectStore
    ) -> None:
        one, other = uuid4(), uuid4()
        store.recorder.insert_events([_event(one, 1)])
        before = store.recorder.max_notification_id()
        with pytest.raises(IntegrityError):
            store.recorder.insert_events([_event(other, 1), _event(one, 1)])  # atomic
        assert store.recorder.select_events(other) == []
        assert store.recorder.max_notification_id() == before

    def test_the_log_is_ordered_gap_free_and_pages_join_up(self, store: ObjectStore) -> None:
        aggregates = [uuid4() for _ in range(5)]
        for version in (1, 2, 3):
            store.recorder.insert_events([_event(a, version) for a in aggregates])
        everything = store.recorder.select_notifications(1, 100)
        ids = [n.id for n in everything]
        assert ids == list(range(ids[0], ids[0] + 15))
        assert store.recorder.max_notification_id() == ids[-1]
        paged, start = [], ids[0]
        while page := store.recorder.select_notifications(start, 4):
            paged += page
            start = page[-1].id + 1
        assert [n.id for n in paged] == ids
        assert [(n.originator_id, n.originator_version) for n in everything[:5]] == [
            (a, 1) for a in aggregates]

    def test_notifications_filter_by_topic(self, store: ObjectStore) -> None:
        one = uuid4()
        store.recorder.insert_events([_event(one, 1, "tests:A"), _event(one, 2, "tests:B"),
                                      _event(one, 3, "tests:A")])
        picked = store.recorder.select_notifications(1, 10, topics=["tests:A"])
        assert [n.originator_version for n in picked] == [1, 3]


class TestSQLiteEventLog(EventStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> ObjectStore:
        settings = Settings(data_dir=tmp_path)
        return ObjectStore(settings.event_store_env())


@pytest.mark.postgres
class TestPostgresEventStore(EventStoreContract):
    @pytest.fixture
    def store(self, postgres_url: str, tmp_path: Path) -> ObjectStore:
        settings = Settings(data_dir=tmp_path, event_store=postgres_url)
        return ObjectStore(settings.event_store_env())
