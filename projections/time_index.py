"""The time index: what each key held after each of its events, newest first.

  T/<bucket>/<key>\\0<~micros:8><~position:8>   {"p": position, "n": aggregate version,
                                                "t": time, "s": listing summary or null}
  N/<bucket>/<key>                              the time of the key's newest entry

`~` is the bitwise complement, so within a key the newest entry sorts first and the
entry in force at an instant T is the first one at or after `<key>\\0<~T>`. An as-of
listing therefore costs one or two seeks per key, about what a live listing costs.

Every read here is bounded by the bucket's current incarnation (projections.incarnations):
an entry recorded before the bucket was last created reads as absent, so an instant
before that creation answers as an empty bucket, never with an earlier owner's data.

The summary is the key's listing row after the event, read from the object listing
view in the same batch: this projection runs after ObjectListingProjection, in lockstep
with it (the runner rebuilds views that are not at one position together).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import singledispatchmethod
from typing import Any

import orjson

from domain.objects import ObjectKey
from projections.base import Seeker, ViewReader, ViewTransaction, prefix_end, seeker
from projections.incarnations import incarnation_start
from projections.object_listing import (
    ListedVersion,
    ListPage,
    current_row,
    resume_point,
    rolled_up,
)

_MASK = 2**64 - 1
_SUFFIX = 17  # b"\0" + two 8-byte fields
_STEPS = 4  # entries newer than an instant stepped over before seeking past the rest
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ns(bucket: str) -> bytes:
    return b"T/" + bucket.encode() + b"/"


def micros(moment: datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


class TimeIndexProjection:
    name = "time_index"
    prefixes: tuple[bytes, ...] = (b"T/", b"N/")
    ranged: tuple[bytes, ...] = ()

    @singledispatchmethod
    def process(self, event: Any, position: int, tx: ViewTransaction) -> None:
        """Events this view does not need change nothing."""

    @process.register(ObjectKey.Event)
    def _(self, event: Any, position: int, tx: ViewTransaction) -> None:
        key = event.bucket.encode() + b"/" + event.key.encode()
        moment = micros(event.timestamp)
        previous = tx.get(b"N/" + key)
        if previous is not None:
            # Per key, time never runs backwards: a command's clock is read before it
            # waits its turn, so a later version may carry a slightly earlier stamp.
            moment = max(moment, int(previous))
        _record(tx, key, event, position, moment, current_row(tx, event.bucket, event.key))

    @process.register(ObjectKey.Created)
    def _(self, event: Any, position: int, tx: ViewTransaction) -> None:
        # A key's first event. Its aggregate (one per bucket and key) is the only writer
        # of its entries in this view and the listing, so there is nothing to read yet.
        key = event.bucket.encode() + b"/" + event.key.encode()
        _record(tx, key, event, position, micros(event.timestamp), None)


def _record(tx: ViewTransaction, key: bytes, event: Any, position: int, moment: int,
            row: bytes | None) -> None:
    tx.put(b"N/" + key, b"%d" % moment)
    entry = (
        b"T/" + key + b"\x00"
        + (_MASK - moment).to_bytes(8, "big") + (_MASK - position).to_bytes(8, "big")
    )
    record = b'{"p":%d,"n":%d,"t":%d,"s":%s}' % (
        position, event.originator_version, moment, row if row is not None else b"null"
    )
    tx.put(entry, record)


@dataclass(frozen=True)
class KeyState:
    """A key as it stood at an instant: its listing row (None: absent), and the
    aggregate version and log position of the event that made it so."""

    summary: dict[str, Any] | None
    aggregate_version: int
    position: int


def state_at(views: ViewReader, bucket: str, key: str, moment: datetime) -> KeyState | None:
    """The key's state at `moment`; None when it had no event by then in the bucket's
    current incarnation."""
    head = _ns(bucket) + key.encode() + b"\x00"
    found = next(views.scan(head + _floor(moment), prefix_end(head)), None)
    if found is None:
        return None
    state = _state(found[1])
    return state if state.position >= incarnation_start(views, bucket) else None


def positions_of(views: ViewReader, bucket: str, key: str) -> dict[int, int]:
    """Aggregate version -> log position, for every event of the key in the bucket's
    current incarnation."""
    head = _ns(bucket) + key.encode() + b"\x00"
    since = incarnation_start(views, bucket)
    return {
        record["n"]: record["p"]
        for record in (orjson.loads(raw) for _, raw in views.scan(head, prefix_end(head)))
        if record["p"] >= since
    }


def _state(raw: bytes) -> KeyState:
    record = orjson.loads(raw)
    return KeyState(record["s"], record["n"], record["p"])


def _floor(moment: datetime) -> bytes:
    return (_MASK - micros(moment)).to_bytes(8, "big")


def _step(at: Seeker, entry: tuple[bytes, bytes] | None, below: bytes, stop: bytes,
          within: bytes) -> tuple[bytes, bytes] | None:
    """From `entry`, the first entry >= `below`: a few steps forward while entries stay
    under `within` and below the target (cheap), else one seek."""
    steps = 0
    while entry is not None and entry[0] < below and entry[0].startswith(within):
        entry = at.next(stop) if steps < _STEPS else at.seek(below, stop)
        steps += 1
    return entry


def _walk(
    at: Seeker, ns: bytes, floor: bytes, start: bytes, stop: bytes, since: int
) -> Generator[tuple[str, dict[str, Any]], bytes | None, None]:
    """Every key from `start` that existed at the instant `floor` encodes (by an event
    at log position `since` or later), with its listing row then, in key order, in one
    forward pass over the index. Send a key to jump forward to it (past a common
    prefix)."""
    entry = at.seek(start, stop)
    while entry is not None:
        key_bytes = entry[0][len(ns) : -_SUFFIX]
        head = ns + key_bytes + b"\x00"
        entry = _step(at, entry, head + floor, stop, head)
        if entry is None or not entry[0].startswith(head):
            continue  # no event by then; `entry` is the next key's newest
        record = orjson.loads(entry[1])
        summary = record["s"] if record["p"] >= since else None
        past = ns + key_bytes + b"\x01"
        after = _step(at, at.next(stop), past, stop, head)  # over its older entries
        if summary is not None:
            jump = yield key_bytes.decode(), summary
            if jump is not None:
                after = at.seek(jump, stop)
        entry = after


def rows_as_of(
    views: ViewReader, bucket: str, moment: datetime, prefix: str = ""
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every key present at `moment`, in key order, with its listing row then."""
    ns = _ns(bucket)
    start = ns + prefix.encode()
    since = incarnation_start(views, bucket)
    yield from _walk(seeker(views), ns, _floor(moment), start, prefix_end(start), since)


def list_objects_as_of(
    views: ViewReader,
    bucket: str,
    moment: datetime,
    prefix: str = "",
    delimiter: str = "",
    after: str = "",
    limit: int = 1000,
) -> ListPage:
    """The bucket's current versions as they stood at `moment`, paged as ListObjectsV2."""
    ns = _ns(bucket)
    start = ns + prefix.encode()
    if after:
        start = max(start, resume_point(ns, after, prefix, delimiter))
    since = incarnation_start(views, bucket)
    walk = _walk(
        seeker(views), ns, _floor(moment), start, prefix_end(ns + prefix.encode()), since
    )
    entries: list[ListedVersion] = []
    prefixes: list[str] = []
    last: str | None = None
    truncated = False
    found = next(walk, None)
    while found is not None:
        key, summary = found
        if len(entries) + len(prefixes) >= limit:
            truncated = True
            break
        common = rolled_up(key, prefix, delimiter)
        if common is None:
            entries.append(_listed(key, summary))
            last = key
            found = next(walk, None)
        else:
            prefixes.append(common)
            last = common
            found = _send(walk, ns + common.encode() + b"\xff")
    return ListPage(entries, prefixes, truncated, last if truncated else None)


def _send(
    walk: Generator[tuple[str, dict[str, Any]], bytes | None, None], jump: bytes
) -> tuple[str, dict[str, Any]] | None:
    try:
        return walk.send(jump)
    except StopIteration:
        return None


def _listed(key: str, summary: dict[str, Any]) -> ListedVersion:
    return ListedVersion(
        key=key,
        version_id=summary["version_id"],
        is_delete_marker=False,
        is_latest=True,
        size=summary["size"],
        etag=summary["etag"],
        last_modified=summary["last_modified"],
        content_type=summary["content_type"],
        owner=summary["owner"],
    )
