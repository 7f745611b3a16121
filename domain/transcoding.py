"""How events are stored: eventsourcing's JSON format, written safely, read faster.

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
- Reading fast: eventsourcing's decoder calls a Python hook for every JSON object.
  Nearly every strata event has one typed object, its `timestamp`; when the raw bytes
  show no other, orjson parses the event and only the timestamp is converted. Anything
  else takes eventsourcing's own path, so both give equal results (tested).
"""

from __future__ import annotations

import threading
from typing import Any

import orjson
from eventsourcing.persistence import JSONTranscoder, Transcoding

_TYPE_MARK = b'"_type_"'
# Escapes could spell "_type_" without its literal bytes; the encoder writes them only
# for control characters, so events with any take the general path.
_UNICODE_ESCAPE = b"\\u"


def _number_table() -> bytes:
    """orjson reads an integer past 64 bits as a float, where json keeps it exact. Such
    a number is a run of 19 or more digits after ":", ",", "[", "-" or white space. This
    table maps those to ":" and digits to "0", so that one search of the translated
    bytes finds every candidate (runs inside strings too, which only cost the general
    path)."""
    table = bytearray(b"." * 256)
    for digit in b"0123456789":
        table[digit] = ord("0")
    for before_number in b":,[-\t\n\r ":
        table[before_number] = ord(":")
    return bytes(table)


_NUMBER_TABLE = _number_table()
_LONG_INTEGER = b":" + b"0" * 19


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


def _looks_typed(value: dict[str, Any]) -> bool:
    return len(value) == 2 and "_type_" in value and "_data_" in value


def _escaped(value: Any) -> Any:
    """`value` with every dict shaped like a typed object escaped, at any depth."""
    if isinstance(value, dict):
        inner = {key: _escaped(item) for key, item in value.items()}
        return _EscapedDict(inner) if _looks_typed(inner) else inner
    if isinstance(value, list | tuple):
        return [_escaped(item) for item in value]
    return value


class EventTranscoder(JSONTranscoder):
    """JSONTranscoder that escapes user dicts shaped like typed objects, and parses
    the common event shape with orjson."""

    def __init__(self) -> None:
        super().__init__()
        self.register(_EscapedDictAsPairs())
        self._typed_written = threading.local()

    def encode(self, obj: Any) -> bytes:
        self._typed_written.count = 0
        data = super().encode(obj)
        if data.count(_TYPE_MARK) > self._typed_written.count:
            # A "_type_" the encoder did not write: a user's key or value. Only a dict
            # shaped like a typed object needs escaping, which finding costs a walk.
            data = super().encode(_escaped(obj))
        return data

    def _encode_obj(self, o: Any) -> dict[str, Any]:
        self._typed_written.count += 1
        return super()._encode_obj(o)

    def _decode_obj(self, d: dict[str, Any]) -> Any:
        if _looks_typed(d) and d["_type_"] not in self.names:
            return d  # a user's dict, stored before escaping existed
        return super()._decode_obj(d)

    def decode(self, data: bytes) -> Any:
        marks = data.count(_TYPE_MARK)
        if (marks <= 1 and data[:1] == b"{" and _UNICODE_ESCAPE not in data
                and _LONG_INTEGER not in data.translate(_NUMBER_TABLE)):
            try:
                parsed = orjson.loads(data)
            except orjson.JSONDecodeError:
                # What orjson refuses and json may accept (NaN, 1e400, lone surrogates).
                return super().decode(data)
            if marks == 0:
                return parsed
            stamp = parsed.get("timestamp")
            if type(stamp) is dict and "_type_" in stamp:
                parsed["timestamp"] = self._decode_obj(stamp)
                return parsed
        return super().decode(data)
