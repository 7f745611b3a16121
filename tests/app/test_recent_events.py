"""Followers in the process that committed an event take it from memory: the event
must be the very one decoding its stored row gives, value for value and type for type,
or live views would differ from views rebuilt from the log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from domain.application import ObjectStore
from domain.runtime.recent_events import Committed, RecentEvents
from domain.uploads import ObjectTemplate, UploadedPart
from tests.conftest import META, marker, now, version

ACL = {"owner": "alice", "grants": [{"grantee": "bob", "permission": "READ"}]}


def _store(tmp_path: Path, read_cache_size: int = 100) -> ObjectStore:
    return ObjectStore({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                        "SQLITE_DBNAME": str(tmp_path / "events.db")},
                       read_cache_size=read_cache_size)


def _every_command(store: ObjectStore) -> None:
    store.create_bucket("photos", "alice", META, now())
    store.set_bucket_versioning("photos", "Enabled", META, now())
    store.set_bucket_acl("photos", ACL, META, now())
    store.set_bucket_retention("photos", 60, META, now())
    store.configure_inventory("photos", {"destination": "photos", "prefix": "inv/"}, META, now())
    store.put_object("photos", "cat", version("v1"), META, now())
    store.put_object("photos", "cat", {**version("v2"), "checksum": {"CRC32": "AAAAAA=="}},
                     META, now())
    store.put_object("photos", "odd", {**version("v9"), "user_metadata": {
        "_type_": "datetime_iso", "_data_": "2020-01-01T00:00:00"}}, META, now())
    store.set_object_acl("photos", "cat", "v1", ACL, META, now())
    store.delete_object("photos", "cat", None, marker("m1"), META, now())
    store.delete_object("photos", "cat", "v1", marker("unused"), META, now())
    template: ObjectTemplate = {"owner": "alice", "content_type": "image/png", "headers": {},
                                "user_metadata": {"k": "v"}, "acl": ACL,
                                "checksum_algorithm": ""}
    for upload_id in ("u1", "u2"):
        store.create_multipart_upload("photos", "big", upload_id, template, META, now())
        part: UploadedPart = {"number": 1, "etag": "ab" * 16, "size": 3,
                              "chunks": [{"digest": "cd" * 32, "size": 3}],
                              "last_modified": now().isoformat(), "checksum": {}}
        store.upload_part("photos", "big", upload_id, part, META, now())
    store.complete_multipart_upload("photos", "big", "u1", [(1, "ab" * 16)], "v3", META, now())
    store.abort_multipart_upload("photos", "big", "u2", META, now())
    store.record_garbage_sweep("run", ["ef" * 32], 3, META, now())
    store.register_node("n1", "http://127.0.0.1:1", "z1", META, now())
    store.record_replica_survey("survey", [["cd" * 32, "n1"]], [], [], META, now())
    store.create_user("bob", "Bob", False, META, now())
    store.add_access_key("bob", "AKBOB00000000000001", "secret-of-bob-0000000000", str.upper,
                         META, now())


def _same(live: Any, decoded: Any, where: str) -> None:
    assert type(live) is type(decoded), f"{where}: {type(live)} != {type(decoded)}"
    if isinstance(live, dict):
        assert live.keys() == decoded.keys(), where
        for key in live:
            _same(live[key], decoded[key], f"{where}.{key}")
    elif isinstance(live, list | tuple):
        assert len(live) == len(decoded), where
        for n, (a, b) in enumerate(zip(live, decoded, strict=True)):
            _same(a, b, f"{where}[{n}]")
    else:
        assert live == decoded, where


def test_every_kind_of_event_from_memory_equals_its_decoded_row(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _every_command(store)
    newest = store.current_position()
    from_memory = store.select_notifications(0, newest)
    assert [n.id for n in from_memory] == list(range(1, newest + 1))
    assert all(isinstance(n, Committed) for n in from_memory)
    stored = store.recorder.select_notifications(start=1, limit=newest)
    kinds = set()
    for live, row in zip(from_memory, stored, strict=True):
        assert live.topic == row.topic
        event, decoded = store.decode(live), store.mapper.to_domain_event(row)
        kinds.add(type(event).__qualname__)
        _same(vars(event), vars(decoded), type(event).__qualname__)
    assert len(kinds) >= 20, sorted(kinds)


def test_a_store_that_shares_its_log_reads_every_event_from_the_store(tmp_path: Path) -> None:
    store = _store(tmp_path, read_cache_size=0)  # other processes may write (PostgreSQL)
    store.create_bucket("photos", "alice", META, now())
    store.put_object("photos", "cat", version("v1"), META, now())
    notifications = store.select_notifications(0, 10)
    assert [n.id for n in notifications] == [1, 2, 3]
    assert not any(isinstance(n, Committed) for n in notifications)


def _committed(*positions: int) -> list[Committed]:
    return [Committed(p, "t", p) for p in positions]


def test_the_window_answers_only_for_positions_it_holds_without_a_gap() -> None:
    recent = RecentEvents(capacity=4)
    assert recent.after(0, 10) is None  # nothing yet: read the store
    recent.committed(_committed(5, 6, 7))
    assert recent.after(3, 10) is None  # position 4 was never seen here
    assert [c.id for c in recent.after(4, 10) or []] == [5, 6, 7]
    assert [c.id for c in recent.after(5, 1) or []] == [6]
    assert recent.after(7, 10) == []  # caught up
    assert recent.after(8, 10) is None
    recent.committed(_committed(9, 10))  # 8 is missing: the window starts again
    assert recent.after(7, 10) is None
    assert [c.id for c in recent.after(8, 10) or []] == [9, 10]


def test_the_window_keeps_the_newest_events_within_its_capacity() -> None:
    recent = RecentEvents(capacity=4)
    for position in range(1, 101):
        recent.committed(_committed(position))
    assert recent.after(50, 10) is None
    assert [c.id for c in recent.after(96, 10) or []] == [97, 98, 99, 100]
