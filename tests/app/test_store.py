"""One scenario set, run against SQLite and PostgreSQL event stores."""

from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from domain.application import ObjectStore
from domain.errors import (
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    NoSuchBucket,
    NoSuchKey,
)
from domain.objects import ObjectKey
from infra.eventstore.postgres import prepared_store_env
from infra.run.system import System, open_system
from infra.settings import Settings
from projections.object_listing import list_objects, list_versions
from tests.conftest import META, ROOT_AK, ROOT_SK, marker, now, version


def test_versioned_history_with_markers(system: System) -> None:
    store = system.store
    store.create_bucket("photos", "alice", META, now())
    store.set_bucket_versioning("photos", "Enabled", META, now())
    store.put_object("photos", "k", version("v1"), META, now())
    store.put_object("photos", "k", version("v2"), META, now())
    result = store.delete_object("photos", "k", None, marker("m1"), META, now())
    assert result.delete_marker and result.version_id == "m1"
    with pytest.raises(NoSuchKey):
        store.get_object("photos", "k")
    assert store.get_object("photos", "k", "v1").version["version_id"] == "v1"
    system.runner.wait_for(store.current_position())
    page = list_versions(system.views, "photos")
    assert [(e.version_id, e.is_latest, e.is_delete_marker) for e in page.entries] == [
        ("m1", True, True), ("v2", False, False), ("v1", False, False)]
    assert list_objects(system.views, "photos").entries == []


def test_bucket_with_only_a_delete_marker_is_not_empty(system: System) -> None:
    store = system.store
    store.create_bucket("photos", "alice", META, now())
    store.set_bucket_versioning("photos", "Enabled", META, now())
    store.delete_object("photos", "ghost", None, marker("m1"), META, now())
    with pytest.raises(BucketNotEmpty):
        store.delete_bucket("photos", system.contents, META, now())
    store.delete_object("photos", "ghost", "m1", marker("x"), META, now())
    store.delete_bucket("photos", system.contents, META, now())
    with pytest.raises(NoSuchBucket):
        store.get_bucket("photos")


def test_a_deleted_bucket_name_is_created_again_fresh(system: System) -> None:
    store = system.store
    store.create_bucket("photos", "alice", META, now())
    with pytest.raises(BucketAlreadyOwnedByYou):
        store.create_bucket("photos", "alice", META, now())
    store.set_bucket_versioning("photos", "Enabled", META, now())
    store.delete_bucket("photos", system.contents, META, now())
    info = store.create_bucket("photos", "bob", META, now())
    assert info.owner == "bob" and info.versioning == "Unversioned"


def test_concurrent_writers_to_one_key_lose_no_version(system: System) -> None:
    store = system.store
    store.create_bucket("photos", "alice", META, now())
    store.set_bucket_versioning("photos", "Enabled", META, now())

    def writer(n: int) -> None:
        for i in range(10):
            store.put_object("photos", "hot", version(f"w{n}-{i}"), META, now())

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(writer, range(6)))
    system.runner.wait_for(store.current_position())
    page = list_versions(system.views, "photos")
    assert sorted(e.version_id for e in page.entries) == sorted(
        f"w{n}-{i}" for n in range(6) for i in range(10))
    # The serving store's cached aggregate is the one the log gives a fresh reader.
    hot = ObjectKey.create_id("photos", "hot")
    fresh = ObjectStore(prepared_store_env(system.settings))
    assert store.repository.get(hot).versions == fresh.repository.get(hot).versions
    fresh.close()


def test_a_put_racing_a_bucket_delete_never_lands_in_a_deleted_bucket(system: System) -> None:
    store = system.store
    for trial in range(15):
        name = f"race-{trial}"
        store.create_bucket(name, "alice", META, now())
        start = threading.Barrier(2)
        outcome: dict[str, object] = {}

        def put(
            name: str = name, start: threading.Barrier = start, outcome: dict[str, object] = outcome
        ) -> None:
            start.wait()
            try:
                store.put_object(name, "k", version(), META, now())
                outcome["put"] = "ok"
            except NoSuchBucket:
                outcome["put"] = "no bucket"

        def delete(
            name: str = name, start: threading.Barrier = start, outcome: dict[str, object] = outcome
        ) -> None:
            start.wait()
            try:
                store.delete_bucket(name, system.contents, META, now())
                outcome["delete"] = "ok"
            except BucketNotEmpty:
                outcome["delete"] = "not empty"

        threads = [threading.Thread(target=put), threading.Thread(target=delete)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert (outcome["put"], outcome["delete"]) in {("ok", "not empty"), ("no bucket", "ok")}
        system.runner.wait_for(store.current_position())
        if outcome["delete"] == "ok":
            assert list_versions(system.views, name).entries == []


def test_a_long_lived_key_loads_from_a_snapshot_plus_a_short_tail(system: System) -> None:
    store = system.store
    store.create_bucket("busy", "alice", META, now())
    store.set_bucket_versioning("busy", "Enabled", META, now())
    for n in range(150):
        store.put_object("busy", "hot", version(f"v{n:03}"), META, now())
    key_id = ObjectKey.create_id("busy", "hot")
    assert store.snapshots is not None
    latest = list(store.snapshots.get(key_id, desc=True, limit=1))
    assert latest, "no snapshot was taken for a key with 151 events"
    tail = list(store.events.get(key_id, gt=latest[0].originator_version))
    assert len(tail) < 64
    replayed = None
    for event in store.events.get(key_id):
        replayed = event.mutate(replayed)
    loaded = store.repository.get(key_id)
    assert loaded.versions == replayed.versions
    assert store.get_object("busy", "hot").version["version_id"] == "v149"


def test_a_changed_root_secret_replaces_the_stored_one(sqlite_settings: Settings) -> None:
    first = open_system(sqlite_settings)
    try:
        old = first.store.credentials(ROOT_AK).secret_ciphertext
        assert first.secret_box.decrypt(old) == ROOT_SK
    finally:
        first.close()
    rotated = dataclasses.replace(sqlite_settings, root_secret_key="a-brand-new-root-secret-0001")
    second = open_system(rotated)
    try:
        stored = second.store.credentials(ROOT_AK).secret_ciphertext
        assert second.secret_box.decrypt(stored) == "a-brand-new-root-secret-0001"
    finally:
        second.close()
