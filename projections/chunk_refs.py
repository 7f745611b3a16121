"""Chunk reference counts, from events (decision 3: references are counted from events).

R/<digest>                          how many versions reference the chunk (absent: none)
Z/<digest>                          when its count last dropped to zero, and the releasing
                                    bucket's retention (GC's grace clock; read only while
                                    the count is zero: a chunk referenced again keeps its
                                    old entry until its count drops again and rewrites it)
C/<object id>\\0<version id>         the digests a version references, to release them later
C/<upload id>\\0part:<n>             the digests an uploaded part references, until it ends
K/<digest>\\0<object id><version id> object lock on a version holding the chunk: its
                                    retention's end and legal hold. Kept when the version
                                    goes (only a bug can remove a locked version, and then
                                    the collector must still refuse); dropped when the
                                    chunk is collected.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import singledispatchmethod
from typing import Any
from uuid import UUID

import orjson

from domain.collection import GarbageSweep
from domain.objects import ObjectKey
from domain.records import Retention, Version
from domain.uploads import MultipartUpload
from projections.base import ViewReader, ViewTransaction, prefix_end
from projections.buckets import retention_of


class ChunkRefsProjection:
    name = "chunk_refs"
    prefixes: tuple[bytes, ...] = (b"R/", b"Z/", b"C/", b"K/")
    ranged: tuple[bytes, ...] = (b"K/",)

    @singledispatchmethod
    def process(self, event: Any, position: int, tx: ViewTransaction) -> None:
        """Events this view does not need change nothing."""

    @process.register
    def _(self, event: ObjectKey.VersionPut, position: int, tx: ViewTransaction) -> None:
        self._release(tx, event, event.replaced)
        self._hold(tx, event, event.version)

        if "retention" in event.version or event.version.get("legal_hold"):
            self._lock(tx, event, event.version["version_id"], event.version.get("retention"),
                       bool(event.version.get("legal_hold")))

    @process.register
    def _(self, event: ObjectKey.DeleteMarkerPlaced, position: int, tx: ViewTransaction) -> None:
        self._release(tx, event, event.replaced)

    @process.register
    def _(self, event: ObjectKey.RetentionChanged, position: int, tx: ViewTransaction) -> None:
        hold = self._lock_of(tx, event, event.version_id).get("hold", False)
        self._lock(tx, event, event.version_id, event.retention, hold)

    @process.register
    def _(self, event: ObjectKey.LegalHoldChanged, position: int, tx: ViewTransaction) -> None:
        until = self._lock_of(tx, event, event.version_id).get("until")
        retention = None if until is None else {"mode": "", "until": until}
        self._lock(tx, event, event.version_id, retention, event.on)  # type: ignore[arg-type]

    @process.register
    def _(self, event: ObjectKey.VersionDeleted, position: int, tx: ViewTransaction) -> None:
        self._release(tx, event, [event.version_id])

    @process.register
    def _(self, event: MultipartUpload.PartUploaded, position: int, tx: ViewTransaction) -> None:
        holder = _part_holder(event.part["number"])
        self._release(tx, event, [holder])
        digests = [c["digest"] for c in event.part["chunks"]]
        self._hold_digests(tx, _version_key(event, holder), digests)

    @process.register
    def _(self, event: MultipartUpload.Completed, position: int, tx: ViewTransaction) -> None:
        # The completed version holds its own references (VersionPut, same commit, first).
        self._release(tx, event, [_part_holder(n) for n in event.part_numbers])

    @process.register
    def _(self, event: MultipartUpload.Aborted, position: int, tx: ViewTransaction) -> None:
        self._release(tx, event, [_part_holder(n) for n in event.part_numbers])

    @process.register
    def _(self, event: GarbageSweep.Collected, position: int, tx: ViewTransaction) -> None:
        for digest in event.digests:
            if _count(tx, digest) == 0:
                tx.delete(b"Z/" + digest.encode())
                head = b"K/" + digest.encode() + b"\x00"
                for lock_key, _ in list(tx.scan(head, prefix_end(head))):
                    tx.delete(lock_key)

    def _lock_of(self, tx: ViewTransaction, event: Any, version_id: str) -> dict[str, Any]:
        for digest in self._digests(tx, event, version_id)[:1]:
            raw = tx.get(_lock_key(digest, event, version_id))
            if raw:
                return dict(orjson.loads(raw))
        return {}

    def _digests(self, tx: ViewTransaction, event: Any, version_id: str) -> list[str]:
        raw = tx.get(_version_key(event, version_id))
        return list(orjson.loads(raw)) if raw else []

    def _lock(self, tx: ViewTransaction, event: Any, version_id: str,
              retention: Retention | None, hold: bool) -> None:
        record = orjson.dumps({"until": retention["until"] if retention else None,
                               "hold": hold})
        for digest in self._digests(tx, event, version_id):
            tx.put(_lock_key(digest, event, version_id), record)

    def _hold(self, tx: ViewTransaction, event: Any, version: Version) -> None:
        digests = [c["digest"] for c in version["chunks"]]
        self._hold_digests(tx, _version_key(event, version["version_id"]), digests)

    def _hold_digests(self, tx: ViewTransaction, holder: bytes, digests: list[str]) -> None:
        tx.put(holder, orjson.dumps(digests))
        for digest in digests:
            tx.put(b"R/" + digest.encode(), str(_count(tx, digest) + 1).encode())

    def _release(self, tx: ViewTransaction, event: Any, version_ids: list[str]) -> None:
        if not version_ids:
            return  # most PUTs replace nothing: no need to read the bucket's retention
        keep = retention_of(tx, event.bucket)
        for version_id in version_ids:
            vkey = _version_key(event, version_id)
            raw = tx.get(vkey)
            if raw is None:
                continue
            tx.delete(vkey)
            for digest in orjson.loads(raw):
                count = _count(tx, digest) - 1
                if count <= 0:
                    tx.delete(b"R/" + digest.encode())
                else:
                    tx.put(b"R/" + digest.encode(), str(count).encode())
                # at every release, not only the last: see _latest_release
                tx.put(b"Z/" + digest.encode(), _latest_release(tx, digest, event, keep))


def _latest_release(tx: ViewTransaction, digest: str, event: Any, keep: int) -> bytes:
    """The latest release of the chunk so far. Once its count is zero, that is when its
    last reference went, whatever order the releases were applied in: cells' logs reach
    the views in no set order between them (architecture decision 25), so the release
    that takes the count to zero need not be the latest."""
    at, longest = event.timestamp, keep
    before = released(tx, digest)
    if before is not None and before.at > at:
        at = before.at
    if before is not None:
        longest = max(longest, before.keep_seconds)
    return orjson.dumps({"at": at.isoformat(), "keep": longest})


def _part_holder(number: int) -> str:
    return f"part:{number}"


def _version_key(event: ObjectKey.Event | MultipartUpload.Event, version_id: str) -> bytes:
    return b"C/" + event.originator_id.bytes + b"\x00" + version_id.encode()


def _lock_key(digest: str, event: ObjectKey.Event, version_id: str) -> bytes:
    return (b"K/" + digest.encode() + b"\x00" + event.originator_id.bytes
            + version_id.encode())


def lock_on(views: ViewReader, digest: str, now: datetime) -> str | None:
    """Why the chunk may not be collected now: a version holding it is (or was, if a
    bug removed it) under a legal hold or retention that has not ended; else None."""
    head = b"K/" + digest.encode() + b"\x00"
    for _, raw in views.scan(head, prefix_end(head)):
        lock = orjson.loads(raw)
        if lock.get("hold"):
            return "a version holding it is under a legal hold"
        until = lock.get("until")
        if until is not None and datetime.fromisoformat(until) > now:
            return f"a version holding it is under retention until {until}"
    return None


def _count(views: ViewReader, digest: str) -> int:
    raw = views.get(b"R/" + digest.encode())
    return int(raw) if raw else 0


def reference_count(views: ViewReader, digest: str) -> int:
    return _count(views, digest)


@dataclass(frozen=True)
class Release:
    """When a chunk's last reference went away, and how long its bucket keeps it since."""

    at: datetime
    keep_seconds: int


def released(views: ViewReader, digest: str) -> Release | None:
    """When the chunk's last reference went: the latest release of any of them; None
    if none ever was (or it was collected since). Meaningful only while its count is
    zero."""
    raw = views.get(b"Z/" + digest.encode())
    if not raw:
        return None
    if not raw.startswith(b"{"):  # written before retention existed: a bare time
        return Release(datetime.fromisoformat(raw.decode()), 0)
    record = orjson.loads(raw)
    return Release(datetime.fromisoformat(record["at"]), record["keep"])


def referenced_digests(views: ViewReader) -> Iterator[str]:
    """Every chunk some version or part references, in digest order."""
    for key, _ in views.scan(b"R/", prefix_end(b"R/")):
        yield key[2:].decode()


def digests_of_object(views: ViewReader, object_id: UUID) -> set[str]:
    """Every chunk the object's versions (and its open upload parts) reference."""
    head = b"C/" + object_id.bytes + b"\x00"
    return {d for _, raw in views.scan(head, prefix_end(head)) for d in orjson.loads(raw)}
