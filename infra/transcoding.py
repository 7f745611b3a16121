"""Stored events read faster: the format domain.transcoding writes, parsed by orjson.

eventsourcing's decoder calls a Python hook for every JSON object, to find the typed
objects (`{"_type_": ..., "_data_": ...}`). Nearly every strata event has one, its
`timestamp`; when the raw bytes show no other, orjson parses the event and only the
timestamp is converted. Anything else takes the general path, so both give equal
results (tested).
"""

from __future__ import annotations

from typing import Any

import orjson

from domain.transcoding import TYPE_MARK, EventTranscoder

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


class FastEventTranscoder(EventTranscoder):
    """EventTranscoder that parses the common event shape with orjson."""

    def decode(self, data: bytes) -> Any:
        marks = data.count(TYPE_MARK)
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
            if type(stamp) is dict and len(stamp) == 2 and "_data_" in stamp:
                name = stamp.get("_type_")
                transcoding = self.names.get(name) if type(name) is str else None
                if transcoding is not None:
                    parsed["timestamp"] = transcoding.decode(stamp["_data_"])
                    return parsed
        return super().decode(data)
