"""The read cache serves queries from memory and never keeps state a commit made stale."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from domain.application import ObjectStore
from domain.runtime.read_cache import NotInMemory, ReadCache, memory_only
from tests.conftest import META, now, version


def sqlite_store(tmp_path: Path, read_cache_size: int = 0) -> ObjectStore:
    return ObjectStore({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                        "SQLITE_DBNAME": str(tmp_path / "events.sqlite3")}, None, read_cache_size)


class Loads:
    def __init__(self, value: object = "v") -> None:
        self.count = 0
        self.value = value

    def __call__(self) -> object:
        self.count += 1
        return self.value


def test_a_second_query_is_served_from_memory() -> None:
    cache, load, key = ReadCache(10), Loads(), uuid.uuid4()
    assert cache.get(key, load) == "v"
    assert cache.get(key, load) == "v"
    assert load.count == 1


def test_a_commit_makes_the_next_query_load() -> None:
    cache, load, key = ReadCache(10), Loads(), uuid.uuid4()
    cache.get(key, load)
    cache.committed([key])
    cache.get(key, load)
    assert load.count == 2


def test_a_load_that_overlapped_a_commit_is_served_but_not_kept() -> None:
    cache, key = ReadCache(10), uuid.uuid4()

    def load_then_commit() -> str:
        cache.committed([key])  # a writer committed while this load read the old state
        return "old"

    assert cache.get(key, load_then_commit) == "old"
    load = Loads("new")
    assert cache.get(key, load) == "new"
    assert load.count == 1


def test_a_commit_on_another_aggregate_does_not_spoil_a_load() -> None:
    cache, key, other = ReadCache(10), uuid.uuid4(), uuid.uuid4()

    def load_while_other_commits() -> str:
        cache.committed([other])
        return "v"

    cache.get(key, load_while_other_commits)
    load = Loads()
    cache.get(key, load)
    assert load.count == 0


def test_an_overlapping_commit_counts_even_after_its_record_was_dropped() -> None:
    cache, key = ReadCache(1), uuid.uuid4()

    def load_during_many_commits() -> str:
        cache.committed([key])
        cache.committed([uuid.uuid4()])  # pushes key's commit out of the bounded record
        return "old"

    cache.get(key, load_during_many_commits)
    load = Loads("new")
    assert cache.get(key, load) == "new"
    assert load.count == 1


def test_the_cache_holds_at_most_maxsize_aggregates() -> None:
    cache = ReadCache(2)
    keys = [uuid.uuid4() for _ in range(3)]
    for key in keys:
        cache.get(key, Loads())
    first = Loads()
    cache.get(keys[0], first)  # the least recently used one was dropped
    assert first.count == 1
    last = Loads()
    cache.get(keys[2], last)
    assert last.count == 0


def test_readers_racing_writers_never_see_an_older_version_than_acknowledged(
    tmp_path: Path,
) -> None:
    store = sqlite_store(tmp_path, 64)
    store.create_bucket("bkt", "alice", META, now())
    acknowledged = [0]
    stop = threading.Event()
    stale: list[tuple[int, int]] = []

    def write() -> None:
        for n in range(1, 40):
            store.put_object("bkt", "k", {**version(), "etag": f"etag-v{n}"}, META, now())
            acknowledged[0] = n
        stop.set()

    def read() -> None:
        while not stop.is_set():
            floor = acknowledged[0]
            if floor == 0:
                continue
            seen = int(store.get_object("bkt", "k").version["etag"].removeprefix("etag-v"))
            if seen < floor:
                stale.append((seen, floor))

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(write), *(pool.submit(read) for _ in range(3))]
        for future in futures:
            future.result(timeout=120)
    assert stale == []
    assert store.get_object("bkt", "k").version["etag"] == "etag-v39"
    store.close()


def test_in_memory_only_mode_a_query_answers_from_the_cache_or_says_it_cannot(
    tmp_path: Path,
) -> None:
    store = sqlite_store(tmp_path, 64)
    store.create_bucket("bkt", "alice", META, now())
    store.put_object("bkt", "k", version(), META, now())
    with memory_only(), pytest.raises(NotInMemory):
        store.get_object("bkt", "k")  # nothing read yet: the answer needs the store
    store.get_object("bkt", "k")
    with memory_only():
        assert store.get_object("bkt", "k").version["etag"] == "e"
        with pytest.raises(NotInMemory):
            store.current_position()
    store.put_object("bkt", "k", {**version(), "etag": "e2"}, META, now())
    with memory_only(), pytest.raises(NotInMemory):
        store.get_object("bkt", "k")  # the commit made the kept copy stale
    assert store.get_object("bkt", "k").version["etag"] == "e2"
    store.close()


def test_without_a_read_cache_memory_only_queries_always_defer(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path)
    store.create_bucket("bkt", "alice", META, now())
    store.get_bucket("bkt")
    with memory_only(), pytest.raises(NotInMemory):
        store.get_bucket("bkt")
    store.close()
