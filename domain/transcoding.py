"""How events are stored: eventsourcing's JSON format, written safely.

eventsourcing's JSONTranscoder writes a datetime, UUID or decimal as an object
`{"_type_": name, "_data_": text}`, and its decoder turns every object of that shape
back into one. A user's own dict of that shape (S3 user metadata named `_type_` and
`_data_`, which any client may send) would come back as a datetime, or, with a name
no transcoding has, make the event unreadable and stop every view. So:

- Writing: a user dict of that shape is stored as an escaped object (`strata_dict`,
  its items as pairs), which reads back as the same dict. Events without one are
  stored byte for byte as eventsourcing stores them.
- Reading: an object naming no known transcoding is left a dict (events stored before
  the escape existed stay readable).

infra.eventstore.transcoding reads the same format faster.
"""

from __future__ import annotations

import threading
from typing import Any

from eventsourcing.persistence import JSONTranscoder, Transcoding

TYPE_MARK = b'"_type_"'


class _EscapedDict:
    """A user's dict shaped like a typed object, on its way to being stored."""

    __slots__ = ("items",)

    def __init__(self, items: dict[str, Any]) -> None:
        self.items = items


class _EscapedDictAsPairs(Transcoding):
    type = _EscapedDict
    name = "strata_dict"

    def encode(self, obj: _EscapedDict) -> list[list[Any]]:
        return [[key, value] for key, value in obj.items.items()]

    def decode(self, data: list[list[Any]]) -> dict[str, Any]:
        return {key: value for key, value in data}


def looks_typed(value: dict[str, Any]) -> bool:
    """Shaped like a typed object: {"_type_": name, "_data_": ...}."""
    return len(value) == 2 and "_type_" in value and "_data_" in value


def _escaped(value: Any) -> Any:
    """`value` with every dict shaped like a typed object escaped, at any depth."""
    if isinstance(value, dict):
        inner = {key: _escaped(item) for key, item in value.items()}
        return _EscapedDict(inner) if looks_typed(inner) else inner
    if isinstance(value, list | tuple):
        return [_escaped(item) for item in value]
    return value


class EventTranscoder(JSONTranscoder):
    """JSONTranscoder that escapes user dicts shaped like typed objects."""

    def __init__(self) -> None:
        super().__init__()
        self.register(_EscapedDictAsPairs())
        self._typed_written = threading.local()

    def encode(self, obj: Any) -> bytes:
        self._typed_written.count = 0
        data = super().encode(obj)
        if data.count(TYPE_MARK) > self._typed_written.count:
            # A "_type_" the encoder did not write: a user's key or value. Only a dict
            # shaped like a typed object needs escaping, which finding costs a walk.
            data = super().encode(_escaped(obj))
        return data

    def _encode_obj(self, o: Any) -> dict[str, Any]:
        self._typed_written.count += 1
        return super()._encode_obj(o)

    def _decode_obj(self, d: dict[str, Any]) -> Any:
        if looks_typed(d) and d["_type_"] not in self.names:
            return d  # a user's dict, stored before escaping existed
        return super()._decode_obj(d)
