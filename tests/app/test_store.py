"""One scenario set, run against SQLite and PostgreSQL event stores."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from domain.errors import (
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    NoSuchBucket,
    NoSuchKey,
)
from infra.system import System
from projections.object_listing import list_objects, list_versions
from tests.conftest import META, marker, now, version


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


def test_a_put_racing_a_bucket_delete_never_lands_in_a_deleted_bucket(system: System) -> None:
    store = system.store
    for trial in range(15):
        name = f"race-{trial}"
        store.create_bucket(name, "alice", META, now())
        start = threading.Barrier(2)
        outcome: dict[str, object] = {}

        def put(name: str = name) -> None:
            start.wait()
            try:
                store.put_object(name, "k", version(), META, now())
                outcome["put"] = "ok"
            except NoSuchBucket:
                outcome["put"] = "no bucket"

        def delete(name: str = name) -> None:
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
