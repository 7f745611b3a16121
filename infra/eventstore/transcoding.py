"""Stored events read faster: the format domain.transcoding writes, parsed by orjson,
and made into domain events with what each event class needs worked out once.

eventsourcing's decoder calls a Python hook for every JSON object, to find the typed
objects (`{"_type_": ..., "_data_": ...}`). Nearly every strata event has one, its
`timestamp`; when the raw bytes show no other, orjson parses the event and only the
timestamp is converted. Anything else, and anything orjson might read otherwise than
json does, takes the general path, so both give equal results (tested).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, cast
from uuid import UUID

import orjson
from eventsourcing.persistence import (
    Cipher,
    Compressor,
    Mapper,
    StoredEvent,
    Transcoder,
    find_id_convertor,
    pass_through_convertor,
)
from eventsourcing.utils import resolve_topic

from domain.transcoding import TYPE_MARK, EventTranscoder, looks_typed


class FastEventTranscoder(EventTranscoder):
    """EventTranscoder that parses the common event shape with orjson."""

    def decode(self, data: bytes) -> Any:
        marks = data.count(TYPE_MARK)
        if marks <= 1 and data[:1] == b"{":
            try:
                parsed = orjson.loads(data)
                # Where orjson and json could differ (an integer past 64 bits, which
                # orjson reads as a float; a duplicate key; a "\\u" escape that spells
                # "_type_" without its literal bytes), orjson does not write back the
                # bytes it read. Bytes it writes back exactly are read alike by both.
                exact = orjson.dumps(parsed) == data
            except (orjson.JSONDecodeError, orjson.JSONEncodeError):
                # What orjson refuses and json may accept (NaN, 1e400, lone surrogates,
                # nesting orjson will not write back).
                return super().decode(data)
            if exact:
                if marks == 0:
                    return parsed
                stamp = parsed.get("timestamp")
                if type(stamp) is dict and looks_typed(stamp):
                    transcoding = self.names.get(stamp["_type_"])
                    if transcoding is not None:
                        parsed["timestamp"] = transcoding.decode(stamp["_data_"])
                        return parsed
        return super().decode(data)


class FastEventMapper(Mapper[UUID]):
    """eventsourcing's Mapper, turning stored events into domain events with less work
    where nothing is enciphered or compressed: what an event class needs (its topic
    resolved, no upcasting, ids passed as they are) is worked out once per topic, not
    once per event. Anything else is eventsourcing's own path."""

    def __init__(self, transcoder: Transcoder, compressor: Compressor | None = None,
                 cipher: Cipher | None = None) -> None:
        super().__init__(transcoder, compressor, cipher)
        self._plain: dict[tuple[str, Hashable], type | None] = {}

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        cls = self._plain_class(stored_event)
        if cls is None:
            return super().to_domain_event(stored_event)
        try:
            state = self.transcoder.decode(stored_event.state)
        except Exception:
            return super().to_domain_event(stored_event)  # raises eventsourcing's error
        if "class_version" in state:
            return super().to_domain_event(stored_event)
        state["originator_id"] = stored_event.originator_id
        state["originator_version"] = stored_event.originator_version
        event: Any = object.__new__(cls)
        object.__setattr__(event, "__dict__", state)
        return event

    def _plain_class(self, stored_event: StoredEvent) -> type | None:
        key = (stored_event.topic, cast(Hashable, type(stored_event.originator_id)))
        try:
            return self._plain[key]
        except KeyError:
            pass
        cls: type | None = resolve_topic(stored_event.topic)
        if (self.cipher or self.compressor or getattr(cls, "class_version", 1) != 1
                or find_id_convertor(cls, key[1]) is not pass_through_convertor):
            cls = None
        self._plain[key] = cls
        return cls
