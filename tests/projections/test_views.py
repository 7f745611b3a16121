from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from functools import singledispatchmethod
from pathlib import Path
from typing import Any

import orjson
import pytest

from domain.application import ObjectStore
from domain.buckets import Bucket
from domain.objects import ObjectKey
from infra.run.system import System, all_projections
from infra.settings import Settings
from infra.views.rocksdb import RocksDBViewStore
from projections.base import InMemoryViewStore, ViewStore, ViewTransaction
from projections.object_listing import bucket_stats, list_objects, list_versions
from projections.runner import ProjectionRunner
from tests.conftest import META, marker, now, version

KEYS = ["a/1", "a/2", "a/b/c", "b", "b/", "c d", "é", "z+%", "a", "\x01ctrl", "a/../b"]


def views_for(kind: str, tmp_path: Path) -> ViewStore:
    return InMemoryViewStore() if kind == "memory" else RocksDBViewStore(tmp_path / "views")


@pytest.fixture(params=["memory", "rocksdb"])
def listing(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[ObjectStore, ViewStore]:
    store = ObjectStore({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                         "SQLITE_DBNAME": str(tmp_path / "events.db")})
    store.create_bucket("photos", "alice", META, now())
    for key in KEYS:
        store.put_object("photos", key, version(), META, now())
    views = views_for(request.param, tmp_path)
    ProjectionRunner(store, views, all_projections()).catch_up()
    return store, views


def test_keys_list_in_utf8_byte_order(listing: tuple[ObjectStore, ViewStore]) -> None:
    _, views = listing
    keys = [e.key for e in list_objects(views, "photos").entries]
    assert keys == sorted(KEYS, key=lambda k: k.encode())


def test_delimiter_rolls_up_common_prefixes(listing: tuple[ObjectStore, ViewStore]) -> None:
    _, views = listing
    page = list_objects(views, "photos", delimiter="/")
    assert page.common_prefixes == ["a/", "b/"]
    assert [e.key for e in page.entries] == ["\x01ctrl", "a", "b", "c d", "z+%", "é"]
    inner = list_objects(views, "photos", prefix="a/", delimiter="/")
    assert [e.key for e in inner.entries] == ["a/1", "a/2"]
    assert inner.common_prefixes == ["a/../", "a/b/"]


@pytest.mark.parametrize("delimiter", ["", "/"])
@pytest.mark.parametrize("limit", [1, 2, 3])
def test_pages_join_up_to_the_full_listing(
    listing: tuple[ObjectStore, ViewStore], delimiter: str, limit: int
) -> None:
    _, views = listing
    full = list_objects(views, "photos", delimiter=delimiter)
    seen_keys: list[str] = []
    seen_prefixes: list[str] = []
    after = ""
    for _ in range(50):
        page = list_objects(views, "photos", delimiter=delimiter, after=after, limit=limit)
        assert len(page.entries) + len(page.common_prefixes) <= limit
        seen_keys += [e.key for e in page.entries]
        seen_prefixes += page.common_prefixes
        if not page.is_truncated:
            break
        assert page.next_key is not None
        after = page.next_key
    assert seen_keys == [e.key for e in full.entries]
    assert seen_prefixes == full.common_prefixes


def test_version_pages_resume_inside_a_key(tmp_path: Path) -> None:
    store = _versioned_photos(tmp_path)
    for i in range(5):
        store.put_object("photos", "k", version(f"v{i}"), META, now())
    views = InMemoryViewStore()
    ProjectionRunner(store, views, all_projections()).catch_up()
    first = list_versions(views, "photos", limit=2)
    assert [e.version_id for e in first.entries] == ["v4", "v3"]
    rest = list_versions(views, "photos", after_key=first.next_key or "",
                         after_version_id=first.next_version_id, limit=10)
    assert [e.version_id for e in rest.entries] == ["v2", "v1", "v0"]
    assert not any(e.is_latest for e in rest.entries)


def test_stats_follow_overwrites_and_deletes(tmp_path: Path) -> None:
    store = ObjectStore({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                         "SQLITE_DBNAME": str(tmp_path / "events.db")})
    store.create_bucket("photos", "alice", META, now())
    store.put_object("photos", "a", version(size=10), META, now())
    store.put_object("photos", "a", version(size=4), META, now())
    store.put_object("photos", "b", version(size=5), META, now())
    store.delete_object("photos", "b", None, marker(), META, now())
    views = InMemoryViewStore()
    ProjectionRunner(store, views, all_projections()).catch_up()
    stats = bucket_stats(views, "photos")
    assert (stats.objects, stats.bytes, stats.versions, stats.version_bytes) == (1, 4, 1, 4)


def test_a_rebuilt_view_equals_the_live_one(sqlite_settings: Settings, tmp_path: Path) -> None:
    from infra.run.rebuild import rebuild_views
    from infra.run.system import open_system

    system = open_system(sqlite_settings)
    system.start()
    store = system.store
    store.create_bucket("photos", "alice", META, now())
    store.create_bucket("old", "alice", META, now())
    store.delete_bucket("old", system.contents, META, now())
    store.set_bucket_versioning("photos", "Enabled", META, now())
    for i in range(40):
        store.put_object("photos", f"k{i % 7}", version(f"v{i}", digest=f"{i % 5:02x}" * 32),
                         META, now())
        if i % 6 == 0:
            store.delete_object("photos", f"k{i % 7}", None, marker(f"m{i}"), META, now())
    store.delete_object("photos", "k1", "v8", marker("x"), META, now())
    system.runner.wait_for(store.current_position())
    system.close()
    live = dict(_all_items(RocksDBViewStore(sqlite_settings.views_dir)))
    assert rebuild_views(sqlite_settings) == max(int(live[k]) for k in live if b"tracking" in k)
    rebuilt = dict(_all_items(RocksDBViewStore(sqlite_settings.views_dir)))
    live_views = {k: v for k, v in live.items() if not k.startswith((b"\x00", b"D/"))}
    assert live_views and live_views == {
        k: v for k, v in rebuilt.items() if not k.startswith((b"\x00", b"D/"))}


def _all_items(views: RocksDBViewStore) -> list[tuple[bytes, bytes]]:
    try:
        return list(views.scan(b"", b"\xff" * 8))
    finally:
        views.close()


def test_read_after_write_and_list_after_write_under_concurrency(system: System) -> None:
    store = system.store
    store.create_bucket("photos", "alice", META, now())
    failures: list[str] = []

    def writer(n: int) -> None:
        for i in range(15):
            key = f"w{n}/k{i}"
            store.put_object("photos", key, version(), META, now())
            if store.get_object("photos", key).version["etag"] != "e":
                failures.append(f"read {key}")
            system.runner.wait_for(store.current_position())
            keys = {e.key for e in list_objects(system.views, "photos", prefix=f"w{n}/").entries}
            if key not in keys:
                failures.append(f"list {key}")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert failures == []
    assert len(list_objects(system.views, "photos").entries) == 60


class _CountsBuckets:
    """Handles Bucket.Created only; its generic case must never run."""

    name = "counts-buckets"
    prefixes = (b"CB/",)
    ranged = ()

    @singledispatchmethod
    def process(self, event: Any, position: int, tx: ViewTransaction) -> None:
        raise AssertionError(f"called for {type(event).__name__}")

    @process.register
    def _(self, event: Bucket.Created, position: int, tx: ViewTransaction) -> None:
        tx.put(b"CB/" + event.name.encode(), str(position).encode())


def test_the_runner_hands_a_projection_only_the_events_it_handles(tmp_path: Path) -> None:
    store = ObjectStore({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                         "SQLITE_DBNAME": str(tmp_path / "events.db")})
    store.create_bucket("photos", "alice", META, now())
    store.put_object("photos", "k", version(), META, now())
    store.create_bucket("videos", "alice", META, now())
    views = InMemoryViewStore()
    runner = ProjectionRunner(store, views, [_CountsBuckets()])
    runner.catch_up()
    assert [k for k, _ in views.items() if k.startswith(b"CB/")] == [b"CB/photos", b"CB/videos"]
    assert runner.position == store.current_position()


def test_a_batch_reads_its_own_pending_writes_in_key_order() -> None:
    committed = InMemoryViewStore()
    committed.commit({b"k/1": b"old", b"k/3": b"three", b"z": b"other"}, {})
    tx = ViewTransaction(committed)
    tx.put(b"k/2", b"two")
    tx.put(b"k/1", b"new")
    tx.delete(b"k/3")
    tx.put(b"k/0", b"zero")
    assert list(tx.scan(b"k/", b"k/\xff")) == [
        (b"k/0", b"zero"), (b"k/1", b"new"), (b"k/2", b"two")]
    assert tx.first(b"k/2", b"k/\xff") == (b"k/2", b"two")


def test_a_value_kept_decoded_is_read_as_changed_and_committed_once_encoded() -> None:
    committed = InMemoryViewStore()
    committed.commit({b"n/a": b"[1]"}, {})
    tx = ViewTransaction(committed)
    counts = tx.decoded(b"n/a", lambda raw: orjson.loads(raw or b"[]"), orjson.dumps)
    counts.append(2)
    assert tx.decoded(b"n/a", orjson.loads, orjson.dumps) is counts  # loaded once a batch
    fresh = tx.decoded(b"n/b", lambda raw: orjson.loads(raw or b"[]"), orjson.dumps)
    fresh.append(9)
    assert tx.get(b"n/a") == b"[1,2]"
    assert list(tx.scan(b"n/", b"n/\xff")) == [(b"n/a", b"[1,2]"), (b"n/b", b"[9]")]
    committed.commit(tx.finish(), {})
    assert committed.items() == [(b"n/a", b"[1,2]"), (b"n/b", b"[9]")]


def test_a_batch_scans_only_the_prefixes_its_projections_declare() -> None:
    tx = ViewTransaction(InMemoryViewStore(), ranged=(b"V/",))
    tx.put(b"V/b", b"2")
    tx.put(b"V/a", b"1")
    tx.put(b"L/x", b"unordered")
    assert list(tx.scan(b"V/", b"V/\xff")) == [(b"V/a", b"1"), (b"V/b", b"2")]
    assert tx.get(b"L/x") == b"unordered"
    with pytest.raises(ValueError, match="declare it"):
        list(tx.scan(b"L/", b"L/\xff"))


def test_views_at_different_positions_are_rebuilt_together(tmp_path: Path) -> None:
    """A view added to an existing store (the time index, say) reads the listing's rows
    within a batch: it cannot catch up alone, so every view starts again from 0."""
    store = ObjectStore({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                         "SQLITE_DBNAME": str(tmp_path / "events.db")})
    store.create_bucket("photos", "alice", META, now())
    store.put_object("photos", "k", version("v1"), META, now())
    store.put_object("photos", "k", version("v2"), META, now())
    views = InMemoryViewStore()
    older = [p for p in all_projections() if p.name != "time_index"]
    ProjectionRunner(store, views, older).catch_up()
    assert not [k for k, _ in views.items() if k.startswith(b"T/")]
    runner = ProjectionRunner(store, views, all_projections())
    assert runner.position == 0
    runner.catch_up()
    fresh = InMemoryViewStore()
    ProjectionRunner(store, fresh, all_projections()).catch_up()
    assert views.items() == fresh.items()
    assert len([k for k, _ in views.items() if k.startswith(b"T/")]) == 3


def test_as_of_listings_on_any_view_store(tmp_path: Path) -> None:
    """The time index read through a plain scan (the in-memory store) gives the same
    answers as through RocksDB's reused iterator."""
    from projections.time_index import list_objects_as_of

    store = ObjectStore({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                         "SQLITE_DBNAME": str(tmp_path / "events.db")})
    start = datetime(2026, 1, 1, tzinfo=UTC)
    store.create_bucket("photos", "alice", META, start)
    for n in range(8):  # more overwrites than the listing steps over before seeking
        moment = start + timedelta(minutes=n)
        store.put_object("photos", "b", version("null"), META, moment)
        if n == 3:
            store.put_object("photos", "a", version("null"), META, moment)
            store.delete_object("photos", "c", None, marker("null"), META, moment)
        if n == 1:
            store.put_object("photos", "c", version("null"), META, moment)
    views = InMemoryViewStore()
    ProjectionRunner(store, views, all_projections()).catch_up()

    def keys(minute: float) -> list[str]:
        page = list_objects_as_of(views, "photos", start + timedelta(minutes=minute))
        return [e.key for e in page.entries]

    assert keys(-1) == []
    assert keys(0.5) == ["b"]
    assert keys(1.5) == ["b", "c"]
    assert keys(3.5) == ["a", "b"]
    assert keys(100) == ["a", "b"]


def test_reads_waiting_at_the_barrier_let_go_when_the_views_close(tmp_path: Path) -> None:
    store = ObjectStore({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                         "SQLITE_DBNAME": str(tmp_path / "events.db")})
    runner = ProjectionRunner(store, InMemoryViewStore(), all_projections())
    outcome: list[BaseException] = []

    def read_far_ahead() -> None:
        try:
            runner.wait_for(10**9, timeout=60)  # a position no one will write
        except BaseException as exc:
            outcome.append(exc)

    waiting = threading.Thread(target=read_far_ahead)
    waiting.start()
    waiting.join(0.3)
    assert waiting.is_alive()
    runner.closing()
    waiting.join(5)
    assert not waiting.is_alive()
    assert [type(e).__name__ for e in outcome] == ["BarrierTimeout"]
    assert "closing" in str(outcome[0])
    store.close()


class _Empty:
    def is_empty(self, bucket: str, position: int) -> bool:
        return True

    def open_uploads(self, bucket: str, position: int) -> list[tuple[str, str]]:
        return []


def test_a_key_s_first_events_find_nothing_of_it_in_the_views(tmp_path: Path) -> None:
    """The time index skips its reads for a Created event, and the listing its read
    of the current row for a key's first version: both hold only if nothing of the key
    is in the views before then, whatever came before in its bucket."""
    from eventsourcing.utils import resolve_topic

    from domain.objects import ObjectKey
    from projections.base import prefix_end

    store = ObjectStore({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                         "SQLITE_DBNAME": str(tmp_path / "events.db")})
    store.create_bucket("plain", "alice", META, now())
    store.create_bucket("kept", "alice", META, now())
    store.set_bucket_versioning("kept", "Enabled", META, now())
    for bucket in ("plain", "kept"):
        store.put_object(bucket, "k", version("v1"), META, now())
        store.put_object(bucket, "k", version("v2"), META, now())
    store.delete_object("kept", "k", "v1", marker(), META, now())
    store.delete_object("kept", "k", "v2", marker(), META, now())
    store.put_object("kept", "k", version("v3"), META, now())  # after it was unlisted
    store.delete_object("kept", "never", None, marker("m1"), META, now())  # Created + marker
    store.delete_object("plain", "k", None, marker(), META, now())
    store.delete_bucket("plain", _Empty(), META, now())
    store.create_bucket("plain", "alice", META, now())
    store.put_object("plain", "k", version("v4"), META, now())  # the same aggregate again
    store.put_object("plain", "new", version("v5"), META, now())

    views = InMemoryViewStore()
    runner = ProjectionRunner(store, views, all_projections())
    checked = {"created": 0, "first": 0}
    for notification in store.select_notifications(0, 1000):
        event_type = resolve_topic(notification.topic)
        if issubclass(event_type, ObjectKey.Event):
            event = store.decode(notification)
            name = event.bucket.encode() + b"/" + event.key.encode()
            if event_type is ObjectKey.Created:
                for kind in (b"N/", b"L/", b"V/", b"T/"):
                    assert not list(views.scan(kind + name, prefix_end(kind + name))), kind
                checked["created"] += 1
            elif event.originator_version == 2:
                assert views.get(b"L/" + name) is None
                checked["first"] += 1
        runner.apply([notification], notification.id)
    assert checked == {"created": 4, "first": 4}
    page = list_objects(views, "plain")
    assert [e.key for e in page.entries] == ["k", "new"]


def _versioned_photos(tmp_path: Path) -> ObjectStore:
    store = ObjectStore({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                         "SQLITE_DBNAME": str(tmp_path / "events.db")})
    store.create_bucket("photos", "alice", META, now())
    store.set_bucket_versioning("photos", "Enabled", META, now())
    return store


def _replicated(version_id: str, at: datetime, position: int, is_marker: bool = False
                ) -> dict[str, Any]:
    made = marker(version_id) if is_marker else version(version_id)
    return {"kind": "marker" if is_marker else "put", "key": "k",
            "version": {**made, "created_at": at.isoformat()}, "time": at.isoformat(),
            "meta": META, "origin_site": "elsewhere", "origin_position": position}


@pytest.mark.parametrize("kind", ["memory", "rocksdb"])
def test_versions_from_another_site_older_than_the_newest_are_kept_beneath_it(
        kind: str, tmp_path: Path) -> None:
    """Two sites wrote one key: each version from the other site goes where its time
    puts it among the versions, the newest stays current, and the listing says so in
    the same order the key's aggregate keeps, however many arrive in one place."""
    store = _versioned_photos(tmp_path)
    start = now()
    store.put_object("photos", "k", {**version("top"), "created_at":
                                     (start + timedelta(hours=1)).isoformat()}, META, now())
    # older than "top", newer than each other: each goes right beneath "top", 40 times
    # (more than the 32 halvings of the room beneath one row)
    for i in range(40):
        store.apply_replicated("photos", _replicated(f"r{i:02d}", start + timedelta(
            seconds=i), i + 1))
    store.apply_replicated("photos", _replicated("m", start + timedelta(seconds=20.5), 41,
                                                 is_marker=True))
    store.apply_replicated("photos", _replicated("oldest", start - timedelta(hours=1), 42))
    views = views_for(kind, tmp_path)
    ProjectionRunner(store, views, all_projections()).catch_up()

    listed = [(e.version_id, e.is_latest) for e in list_versions(views, "photos").entries]
    expected = ["top", *[f"r{i:02d}" for i in range(39, 20, -1)], "m",
                *[f"r{i:02d}" for i in range(20, -1, -1)], "oldest"]
    assert listed == [(v, v == "top") for v in expected]
    aggregate = store.repository.get(ObjectKey.create_id("photos", "k"))
    kept = [v["version_id"] for v in aggregate.versions]
    assert kept == expected[::-1]  # the aggregate: oldest first
    assert [e.key for e in list_objects(views, "photos").entries] == ["k"]
    stats = bucket_stats(views, "photos")
    assert (stats.objects, stats.versions) == (1, 43)


def test_a_key_with_hundreds_of_versions_lists_them_all(tmp_path: Path) -> None:
    """A version row's suffix may hold a zero byte (the 255th event of a key did): the
    key is read off by the suffix's length, not by looking for a zero."""
    store = _versioned_photos(tmp_path)
    for i in range(300):
        store.put_object("photos", "k", version(f"v{i:03d}"), META, now())
    views = InMemoryViewStore()
    ProjectionRunner(store, views, all_projections()).catch_up()
    listed = [(e.key, e.version_id) for e in list_versions(views, "photos").entries]
    assert listed == [("k", f"v{i:03d}") for i in range(299, -1, -1)]
