"""The ViewStore contract (projections/base.py) against the in-memory views and RocksDB:
writes and positions together, byte-ordered scans, drops, and (RocksDB) reopening."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.views.rocksdb import RocksDBViewStore
from projections.base import InMemoryViewStore, ViewStore, prefix_end, seeker


class ViewStoreContract:
    def test_a_commit_writes_deletes_and_moves_positions_together(self, views: ViewStore) -> None:
        assert views.position("listing") == 0 and views.get(b"L/a") is None
        views.commit({b"L/a": b"1", b"L/b": b"2"}, {"listing": 5})
        assert (views.get(b"L/a"), views.get(b"L/b"), views.position("listing")) == (b"1", b"2", 5)
        views.commit({b"L/a": None, b"L/c": b"3"}, {"listing": 9, "stats": 9})
        assert views.get(b"L/a") is None and views.get(b"L/c") == b"3"
        assert (views.position("listing"), views.position("stats")) == (9, 9)

    def test_scans_run_in_byte_order_within_their_bounds(self, views: ViewStore) -> None:
        keys = [b"K/" + k for k in (b"b", b"a/\xff", b"a", b"a/b", b"\xc3\xa9", b"A")]
        views.commit({k: k for k in keys}, {"v": 1})
        views.commit({b"J/x": b"", b"L/y": b""}, {"v": 2})
        assert [k for k, _ in views.scan(b"K/", prefix_end(b"K/"))] == sorted(keys)
        assert [k for k, _ in views.scan(b"K/a", b"K/b")] == [b"K/a", b"K/a/b", b"K/a/\xff"]
        at = seeker(views)
        assert at.seek(b"K/a/", prefix_end(b"K/")) == (b"K/a/b", b"K/a/b")
        assert at.next(prefix_end(b"K/")) == (b"K/a/\xff", b"K/a/\xff")

    def test_a_drop_clears_its_prefixes_and_positions_only(self, views: ViewStore) -> None:
        views.commit({b"A/1": b"x", b"A/2": b"y", b"B/1": b"z"}, {"a": 4, "b": 4})
        views.drop([b"A/"], ["a"])
        assert list(views.scan(b"A/", prefix_end(b"A/"))) == []
        assert views.get(b"B/1") == b"z"
        assert (views.position("a"), views.position("b")) == (0, 4)


class TestInMemoryViews(ViewStoreContract):
    @pytest.fixture
    def views(self) -> InMemoryViewStore:
        return InMemoryViewStore()


class TestRocksDBViews(ViewStoreContract):
    @pytest.fixture
    def views(self, tmp_path: Path) -> Iterator[RocksDBViewStore]:
        store = RocksDBViewStore(tmp_path / "views")
        yield store
        store.close()

    def test_what_was_committed_is_there_after_reopening(self, tmp_path: Path) -> None:
        first = RocksDBViewStore(tmp_path / "again")
        first.commit({b"L/a": b"1"}, {"listing": 7})
        first.close()
        reopened: Any = RocksDBViewStore(tmp_path / "again")
        try:
            assert reopened.get(b"L/a") == b"1" and reopened.position("listing") == 7
        finally:
            reopened.close()
