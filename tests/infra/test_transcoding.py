"""FastEventTranscoder reads what eventsourcing's JSONTranscoder writes, giving what
eventsourcing's own decoder gives: value for value, type for type, error for error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    UUIDAsHex,
)

from domain.application import ObjectStore
from domain.transcoding import EventTranscoder
from infra.eventstore.transcoding import FastEventTranscoder
from infra.settings import Settings

STAMP = datetime(2026, 12, 4, 5, 36, 55, 16568, tzinfo=UTC)


def _registered(transcoder: JSONTranscoder) -> JSONTranscoder:
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return transcoder


REFERENCE = _registered(JSONTranscoder())
FAST = _registered(FastEventTranscoder())
SAFE = _registered(EventTranscoder())


def _same(a: Any, b: Any, where: str = "") -> None:
    assert type(a) is type(b), f"{where}: {type(a)} != {type(b)}"
    if isinstance(a, dict):
        assert list(a) == list(b), where
        for key in a:
            _same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    elif isinstance(a, datetime):
        assert (a, a.utcoffset()) == (b, b.utcoffset()), where
    else:
        assert a == b, where


def _event(**fields: Any) -> dict[str, Any]:
    return {"timestamp": STAMP, "bucket": "photos", "key": "cat.png", **fields}


STATES = [
    pytest.param(_event(), id="created"),
    pytest.param(_event(version={"size": 4096, "etag": "e" * 32, "user_metadata": {"a": "b"},
                                 "chunks": [{"digest": "ab" * 32, "size": 4096}],
                                 "acl": {"grants": [{"grantee": "u", "permission": "READ"}]}},
                        replaced=[], meta={"actor": "alice"}), id="version-put"),
    pytest.param({"name": "no timestamp", "n": [1, 2.5, None, True, False]}, id="no-typed-object"),
    pytest.param(_event(at=STAMP + timedelta(hours=1)), id="two-datetimes"),
    pytest.param(_event(zone=datetime(2020, 1, 1, tzinfo=timezone(timedelta(hours=-5)))),
                 id="offset-datetime"),
    pytest.param(_event(id=UUID(int=7), amount=Decimal("1.10")), id="uuid-and-decimal"),
    pytest.param({"timestamp": "a plain string", "at": STAMP}, id="timestamp-not-typed"),
    pytest.param({"list": [STAMP, {"timestamp": STAMP}]}, id="typed-object-nested"),
    pytest.param(_event(user_metadata={"_type_": "x"}), id="user-key-spelled-type"),
    pytest.param(_event(note="_type_"), id="user-value-spelled-type"),
    pytest.param(_event(note='say "_type_" \\ \n\t\x01 \u2603 \U0001f600'), id="escapes"),
    pytest.param(_event(big=2**70, negative=-(2**65)), id="integers-past-64-bits"),
    pytest.param(_event(size=[2**64, 10**19]), id="integers-just-past-64-bits"),
    pytest.param(_event(size=2**64 - 1, small=-(2**63)), id="integers-at-64-bits"),
    pytest.param(_event(tiny=1.5e-320, zero=-0.0, third=1 / 3), id="floats"),
    pytest.param(_event(ratio=float("nan"), top=float("inf")), id="nan-and-infinity"),
    pytest.param([STAMP, 1], id="top-level-list"),
    pytest.param(STAMP, id="top-level-typed-object"),
    pytest.param(_event(key="k", version={"created_at": "2026-12-04T05:36:55+00:00",
                                           "timestamp": STAMP}), id="datetime-deeper-too"),
]


@pytest.mark.parametrize("state", STATES)
def test_decodes_what_eventsourcing_decodes(state: Any) -> None:
    data = REFERENCE.encode(state)
    expected = REFERENCE.decode(data)
    if isinstance(expected, float) or "nan" in str(state):
        # NaN never equals itself: compare the texts of the two results instead.
        assert repr(FAST.decode(data)) == repr(expected)
        return
    _same(FAST.decode(data), expected)


@pytest.mark.parametrize("data", [
    b'{"odd":"\\ud800","timestamp":{"_type_":"datetime_iso","_data_":"2026-12-04T05:36:55"}}',
    b'{"huge":1e400,"small":-1E400}',
    b'{"spaced": 123456789012345678901, "list":[ 18446744073709551616]}',
    b' {"leading space":1}',
    b'{"twice":1,"twice":{"_type_":"datetime_iso","_data_":"2026-12-04T05:36:55"}}',
    b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-12-04T05:36:55"},"deep":'
    + b"[" * 300 + b"]" * 300 + b"}",
])
def test_reads_what_only_json_reads(data: bytes) -> None:
    _same(FAST.decode(data), REFERENCE.decode(data))


@pytest.mark.parametrize("data", [b"{", b'{"a": 1} x', b"\xff\xfe", b"", b'{"timestamp": }'])
def test_refuses_what_eventsourcing_refuses(data: bytes) -> None:
    with pytest.raises(ValueError) as reference:
        REFERENCE.decode(data)
    with pytest.raises(ValueError) as fast:
        FAST.decode(data)
    assert type(fast.value) is type(reference.value)


def test_a_typed_object_spelled_with_escapes_is_still_converted() -> None:
    # "\u005f" is "_": the raw bytes show no "_type_", yet the object is a datetime.
    data = (b'{"timestamp":{"\\u005ftype_":"datetime_iso","_data_":"2026-12-04T05:36:55+00:00"},'
            b'"at":{"_type_":"datetime_iso","_data_":"2026-12-04T05:36:55+00:00"}}')
    decoded = FAST.decode(data)
    _same(decoded, REFERENCE.decode(data))
    assert isinstance(decoded["timestamp"], datetime)


class _CountingGeneralPath(EventTranscoder):
    general = 0

    def decode(self, data: bytes) -> Any:
        self.general += 1
        return super().decode(data)


class _Probe(FastEventTranscoder, _CountingGeneralPath):
    """FastEventTranscoder with a count of the events it hands to the general path."""


@pytest.mark.parametrize("state", [STATES[0], STATES[1], STATES[2]])
def test_the_common_events_take_the_fast_path(state: Any) -> None:
    probe = _registered(_Probe())
    data = SAFE.encode(state)
    _same(probe.decode(data), REFERENCE.decode(data))
    assert probe.general == 0


@pytest.mark.parametrize("state", [
    pytest.param(_event(big=2**70), id="integer-past-64-bits"),
    pytest.param(_event(at=STAMP), id="second-typed-object"),
])
def test_what_orjson_could_read_otherwise_takes_the_general_path(state: Any) -> None:
    probe = _registered(_Probe())
    data = SAFE.encode(state)
    _same(probe.decode(data), REFERENCE.decode(data))
    assert probe.general == 1


USER_DICTS = [
    {"_type_": "nope", "_data_": "x"},
    {"_type_": "datetime_iso", "_data_": "2020-01-01T00:00:00"},
    {"_type_": "uuid_hex", "_data_": {"_type_": "decimal_str", "_data_": "1"}},
    {"_type_": "strata_dict", "_data_": [["a", "b"]]},
]


@pytest.mark.parametrize("transcoder", [SAFE, FAST], ids=["domain", "fast"])
@pytest.mark.parametrize("user_dict", USER_DICTS)
def test_a_user_dict_shaped_like_a_typed_object_reads_back_as_it_was(
        transcoder: JSONTranscoder, user_dict: Any) -> None:
    state = _event(version={"user_metadata": user_dict, "list": [user_dict, (1, user_dict)]},
                   at=STAMP)
    stored = transcoder.encode(state)
    expected = {**state, "version": {"user_metadata": user_dict,
                                     "list": [user_dict, [1, user_dict]]}}
    _same(SAFE.decode(stored), expected)
    _same(FAST.decode(stored), expected)


def test_events_without_such_dicts_are_stored_as_eventsourcing_stores_them() -> None:
    for param in STATES:
        state = param.values[0]
        if "nan" not in str(state):
            assert FAST.encode(state) == REFERENCE.encode(state)
    state = _event(user_metadata={"_type_": "x", "_data_": "y", "third": "z"}, note="_type_")
    assert FAST.encode(state) == REFERENCE.encode(state)


def test_a_user_dict_stored_before_escaping_existed_is_still_readable() -> None:
    stored = REFERENCE.encode(_event(user_metadata={"_type_": "nope", "_data_": "x"}))
    with pytest.raises(TypeError):
        REFERENCE.decode(stored)  # eventsourcing's decoder could not read such an event
    for transcoder in (SAFE, FAST):
        assert transcoder.decode(stored)["user_metadata"] == {"_type_": "nope", "_data_": "x"}


def test_the_store_writes_safely_everywhere_and_reads_fast_where_settings_say(
        sqlite_settings: Settings, tmp_path: Path) -> None:
    bare = ObjectStore({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                        "SQLITE_DBNAME": str(tmp_path / "bare.db")})
    assert type(bare.mapper.transcoder) is EventTranscoder
    sqlite_settings.data_dir.mkdir(parents=True)
    configured = ObjectStore(sqlite_settings.event_store_env())
    assert type(configured.mapper.transcoder) is FastEventTranscoder
