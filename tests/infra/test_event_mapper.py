"""The store's mapper makes the domain events eventsourcing's own Mapper makes, from
every kind of stored event and from snapshots, value for value and type for type."""

from __future__ import annotations

from eventsourcing.persistence import JSONTranscoder, Mapper

from domain.application import ObjectStore
from domain.objects import ObjectKey
from domain.transcoding import EventTranscoder
from infra.eventstore.transcoding import FastEventMapper
from infra.settings import Settings
from tests.app.test_recent_events import _every_command, _same
from tests.conftest import META, now, version


def _reference() -> Mapper[object]:
    transcoder: JSONTranscoder = EventTranscoder()
    ObjectStore.register_transcodings(ObjectStore, transcoder)  # type: ignore[arg-type]
    return Mapper(transcoder=transcoder)


def test_every_stored_event_and_snapshot_maps_as_eventsourcing_maps_it(
        sqlite_settings: Settings) -> None:
    sqlite_settings.data_dir.mkdir(parents=True)
    store = ObjectStore(sqlite_settings.event_store_env())
    assert type(store.mapper) is FastEventMapper
    _every_command(store)
    for n in range(70):  # past the snapshot interval (64)
        store.put_object("photos", "often", version(f"o{n}"), META, now())
    reference = _reference()

    rows = list(store.recorder.select_notifications(start=1, limit=10_000))
    assert store.snapshots is not None
    rows += store.snapshots.recorder.select_events(ObjectKey.create_id("photos", "often"))
    kinds = set()
    for row in rows:
        ours, theirs = store.mapper.to_domain_event(row), reference.to_domain_event(row)
        assert type(ours) is type(theirs)
        kinds.add(type(ours).__qualname__)
        _same(vars(ours), vars(theirs), type(ours).__qualname__)
    assert len(kinds) >= 21 and "Snapshot" in kinds, sorted(kinds)
