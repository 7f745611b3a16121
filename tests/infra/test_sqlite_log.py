"""The embedded store's recorder reads the log as eventsourcing's own recorder does."""

from __future__ import annotations

import pytest
from eventsourcing.sqlite import SQLiteApplicationRecorder

from domain.application import ObjectStore
from infra.eventstore.sqlite import SQLiteEventLog
from infra.settings import Settings
from tests.conftest import META, marker, now, version


@pytest.fixture
def store(sqlite_settings: Settings) -> ObjectStore:
    sqlite_settings.data_dir.mkdir(parents=True)
    store = ObjectStore(sqlite_settings.event_store_env())
    store.create_bucket("photos", "alice", META, now())
    for i in range(30):
        store.put_object("photos", f"k{i % 4}", version(f"v{i}"), META, now())
    store.delete_object("photos", "k1", None, marker(), META, now())
    return store


def test_the_embedded_store_uses_it(store: ObjectStore) -> None:
    assert type(store.recorder) is SQLiteEventLog


@pytest.mark.parametrize("inclusive", [True, False])
@pytest.mark.parametrize(("start", "limit"), [(0, 100), (1, 5), (7, 3), (34, 10), (99, 5)])
def test_selects_what_eventsourcing_selects(store: ObjectStore, start: int, limit: int,
                                            inclusive: bool) -> None:
    ours = store.recorder.select_notifications(start, limit, inclusive_of_start=inclusive)
    theirs = SQLiteApplicationRecorder.select_notifications(
        store.recorder, start, limit, inclusive_of_start=inclusive)
    assert ours == theirs
    assert [type(n.originator_id) for n in ours] == [type(n.originator_id) for n in theirs]
    assert all(store.decode(a).__dict__ == store.decode(b).__dict__
               for a, b in zip(ours, theirs, strict=True))


def test_filtered_and_bounded_selects_are_eventsourcing_s_own(store: ObjectStore) -> None:
    topic = "domain.objects:ObjectKey.VersionPut"
    puts = store.recorder.select_notifications(0, 100, topics=[topic])
    assert len(puts) == 30 and {n.topic for n in puts} == {topic}
    assert [n.id for n in store.recorder.select_notifications(3, 100, stop=6)] == [3, 4, 5, 6]
