"""The object listing view: current versions, all versions, and per-bucket stats.

Keys sort the way S3 lists (UTF-8 byte order), so prefix, start-after and delimiter
queries are range scans:
  L/<bucket>/<key>                   current version (absent when the latest is a marker)
  V/<bucket>/<key>\\0<newest-first>  every version and delete marker: the complement
                                     of its row number, the event's aggregate version
                                     times 2**32 (the room between two rows is where a
                                     version kept beneath a newer one goes)
  I/<bucket>/<key>\\0<version id>    version id -> its V/ sequence
  S/<bucket>                         object count and bytes, current and all versions
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from functools import singledispatchmethod
from typing import Any

import orjson

from domain.objects import ObjectKey
from domain.records import Version
from projections.base import ViewReader, ViewTransaction, prefix_end

_MAX_SEQ = 2**64 - 1
_ROOM = 32  # bits of room under each row for versions kept beneath it
# The aggregate version of a key's first version or marker: only its Created comes
# before it, and the key's aggregate (one per bucket and key) is its only writer here.
_FIRST_VERSION = 2


def _row_number(vkey: bytes) -> int:
    return _MAX_SEQ - int.from_bytes(vkey[-8:], "big")


def _ns(kind: bytes, bucket: str) -> bytes:
    return kind + b"/" + bucket.encode() + b"/"


def _index_key(bucket: str, key: str, version_id: str) -> bytes:
    """Where a version's row key is found by its version id."""
    return _ns(b"I", bucket) + key.encode() + b"\x00" + version_id.encode()


def _summary(version: Version) -> dict[str, Any]:
    return {
        "version_id": version["version_id"],
        "is_delete_marker": version["is_delete_marker"],
        "size": version["size"],
        "etag": version["etag"],
        "sha256": version["sha256"],
        "last_modified": version["created_at"],
        "content_type": version["content_type"],
        "owner": version["owner"],
        **({"tags": version["tags"]} if version.get("tags") else {}),
        **({"kek": _kek(version)} if _kek(version) else {}),
    }


def _kek(version: Version) -> str:
    """"name:version" of the key-encryption key that wraps a version's data key (key
    rotation re-wraps those behind); "" for plaintext and SSE-C."""
    encryption = version.get("encryption")
    if encryption is None or encryption["mode"] == "SSE-C":
        return ""
    return f"{encryption['wrapped']['key']}:{encryption['wrapped']['version']}"


class ObjectListingProjection:
    name = "object_listing.2"  # .2: rows numbered with room between them
    prefixes: tuple[bytes, ...] = (b"L/", b"V/", b"I/", b"S/")
    ranged: tuple[bytes, ...] = (b"V/",)

    @singledispatchmethod
    def process(self, event: Any, position: int, tx: ViewTransaction) -> None:
        """Events this view does not need change nothing."""

    @process.register
    def _(self, event: ObjectKey.VersionPut, position: int, tx: ViewTransaction) -> None:
        self._place(tx, event, event.version)

    @process.register
    def _(self, event: ObjectKey.DeleteMarkerPlaced, position: int, tx: ViewTransaction) -> None:
        self._place(tx, event, event.marker)

    @process.register
    def _(self, event: ObjectKey.VersionDeleted, position: int, tx: ViewTransaction) -> None:
        bucket, key = _bucket_key(event)
        self._remove(tx, bucket, key, event.version_id)
        self._refresh_current(tx, bucket, key)

    @process.register
    def _(self, event: ObjectKey.VersionKept, position: int, tx: ViewTransaction) -> None:
        self._keep(tx, event, event.version)

    @process.register
    def _(self, event: ObjectKey.DataKeyRewrapped, position: int, tx: ViewTransaction) -> None:
        self._rewrite_row(tx, event, "kek",
                          f"{event.wrapped['key']}:{event.wrapped['version']}")

    @process.register
    def _(self, event: ObjectKey.TagsChanged, position: int, tx: ViewTransaction) -> None:
        """Rows carry their version's tags (the inventory and lifecycle filters read
        them): rewrite the version's row, and the key's listing row if it is current."""
        self._rewrite_row(tx, event, "tags", event.tags or None)

    def _rewrite_row(self, tx: ViewTransaction, event: Any, field: str, value: Any) -> None:
        """Set (None: drop) one field of a version's row, and of its key's listing row
        when it is the current version."""
        bucket, key = _bucket_key(event)
        vkey = tx.get(_index_key(bucket, key, event.version_id))
        raw = tx.get(vkey) if vkey is not None else None
        if vkey is None or raw is None:
            return
        summary = orjson.loads(raw)
        summary.pop(field, None)
        if value is not None:
            summary[field] = value
        row = orjson.dumps(summary)
        tx.put(vkey, row)
        lkey = _ns(b"L", bucket) + key.encode()
        current = tx.get(lkey)
        if current is not None and orjson.loads(current)["version_id"] == event.version_id:
            tx.put(lkey, row)

    @process.register
    def _(self, event: ObjectKey.MarkerKept, position: int, tx: ViewTransaction) -> None:
        self._keep(tx, event, event.marker)

    # -- helpers ------------------------------------------------------------------------

    def _place(self, tx: ViewTransaction, event: Any, version: Version) -> None:
        """A new newest version (or marker), after dropping the versions it replaced."""
        bucket, key = _bucket_key(event)
        for version_id in event.replaced:
            self._remove(tx, bucket, key, version_id)
        row = self._add(tx, bucket, key, version, event.originator_version)
        # A key's events come in aggregate-version order, so what was just added is its
        # newest version: no need to look the newest up again (a seek per PUT).
        marker = version["is_delete_marker"]
        self._set_current(tx, bucket, key, None if marker else row,
                          versions=1, version_bytes=version["size"],
                          listed_before=event.originator_version > _FIRST_VERSION,
                          size_after=0 if marker else version["size"])

    def _keep(self, tx: ViewTransaction, event: Any, version: Version) -> None:
        """A version older than the key's newest: its row goes beneath the row of the
        version `event.below`, above the next older one; the current row stays."""
        bucket, key = _bucket_key(event)
        for version_id in event.replaced:
            self._remove(tx, bucket, key, version_id)
        number = self._room_beneath(tx, bucket, key, event.below)
        if number is None:  # halved 32 times at one place: space the key's rows again
            self._renumber(tx, bucket, key)
            number = self._room_beneath(tx, bucket, key, event.below)
        assert number is not None
        self._add(tx, bucket, key, version, number, numbered=True)
        self._count(tx, bucket, versions=1, version_bytes=version["size"])

    def _room_beneath(self, tx: ViewTransaction, bucket: str, key: str, version_id: str
                      ) -> int | None:
        """A free row number between the row of `version_id` and the next older row."""
        vprefix = _ns(b"V", bucket) + key.encode() + b"\x00"
        upper = tx.get(_index_key(bucket, key, version_id))
        if upper is None:
            raise ValueError(f"version {version_id} of {bucket}/{key} is not in the listing")
        lower = next(tx.scan(upper + b"\x00", prefix_end(vprefix)), None)
        higher, below = _row_number(upper), _row_number(lower[0]) if lower else 0
        return (higher + below) // 2 if higher - below > 1 else None

    def _renumber(self, tx: ViewTransaction, bucket: str, key: str) -> None:
        """Spread the key's rows evenly beneath its newest (whose number stays: the
        next version's row must still go above it)."""
        vprefix = _ns(b"V", bucket) + key.encode() + b"\x00"
        rows = list(tx.scan(vprefix, prefix_end(vprefix)))
        top = _row_number(rows[0][0])
        step = top // (len(rows) + 1)
        for vkey, _ in rows:
            tx.delete(vkey)
        for i, (_, row) in enumerate(rows):
            vkey = vprefix + (_MAX_SEQ - (top - i * step)).to_bytes(8, "big")
            tx.put(vkey, row)
            version_id = orjson.loads(row)["version_id"]
            tx.put(_index_key(bucket, key, version_id), vkey)

    def _add(self, tx: ViewTransaction, bucket: str, key: str, version: Version, seq: int,
             numbered: bool = False) -> bytes:
        """The version's row, under its key and its version id (the caller counts it);
        returns the row. `seq` is the event's aggregate version, or with `numbered` the
        row number itself."""
        number = seq if numbered else seq << _ROOM
        vkey = _ns(b"V", bucket) + key.encode() + b"\x00" + (_MAX_SEQ - number).to_bytes(8, "big")
        row = orjson.dumps(_summary(version))
        tx.put(vkey, row)
        tx.put(_index_key(bucket, key, version["version_id"]), vkey)
        return row

    def _remove(self, tx: ViewTransaction, bucket: str, key: str, version_id: str) -> None:
        ikey = _index_key(bucket, key, version_id)
        vkey = tx.get(ikey)
        if vkey is None:
            return
        old = tx.get(vkey)
        tx.delete(ikey)
        tx.delete(vkey)
        if old is not None:
            self._count(tx, bucket, versions=-1, version_bytes=-orjson.loads(old)["size"])

    def _refresh_current(self, tx: ViewTransaction, bucket: str, key: str) -> None:
        vprefix = _ns(b"V", bucket) + key.encode() + b"\x00"
        newest = tx.first(vprefix, prefix_end(vprefix))
        after = None
        if newest is not None and not orjson.loads(newest[1])["is_delete_marker"]:
            after = newest[1]
        self._set_current(tx, bucket, key, after)

    def _set_current(self, tx: ViewTransaction, bucket: str, key: str, after: bytes | None,
                     versions: int = 0, version_bytes: int = 0, listed_before: bool = True,
                     size_after: int | None = None) -> None:
        """The key's listing row becomes `after` (None: not listed), counted in the
        bucket's stats with the `versions` added. `listed_before`: False when the key
        cannot have a row yet, which saves looking for one. `size_after`: the size in
        `after`, where the caller knows it."""
        lkey = _ns(b"L", bucket) + key.encode()
        before = tx.get(lkey) if listed_before else None
        if after is not None:
            tx.put(lkey, after)
        elif before is not None:
            tx.delete(lkey)
        size_before = orjson.loads(before)["size"] if before else 0
        if size_after is None:
            size_after = orjson.loads(after)["size"] if after else 0
        self._count(
            tx,
            bucket,
            objects=(after is not None) - (before is not None),
            bytes_=size_after - size_before,
            versions=versions,
            version_bytes=version_bytes,
        )

    @staticmethod
    def _count(
        tx: ViewTransaction,
        bucket: str,
        objects: int = 0,
        bytes_: int = 0,
        versions: int = 0,
        version_bytes: int = 0,
    ) -> None:
        stats = tx.decoded(b"S/" + bucket.encode(), _load_stats, orjson.dumps)
        stats["objects"] += objects
        stats["bytes"] += bytes_
        stats["versions"] += versions
        stats["version_bytes"] += version_bytes


def _load_stats(raw: bytes | None) -> dict[str, int]:
    if raw:
        stats: dict[str, int] = orjson.loads(raw)
        return stats
    return {"objects": 0, "bytes": 0, "versions": 0, "version_bytes": 0}


def _bucket_key(event: Any) -> tuple[str, str]:
    return event.bucket, event.key


# -- queries ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListedVersion:
    key: str
    version_id: str
    is_delete_marker: bool
    is_latest: bool
    size: int
    etag: str
    last_modified: str
    content_type: str
    owner: str


@dataclass(frozen=True)
class ListPage:
    entries: list[ListedVersion]
    common_prefixes: list[str]
    is_truncated: bool
    next_key: str | None  # resume after this key (or common prefix)
    next_version_id: str | None = None  # with versions: resume after this version of it


@dataclass(frozen=True)
class BucketStats:
    objects: int = 0
    bytes: int = 0
    versions: int = 0
    version_bytes: int = 0


def encode_cursor(key: str, version_id: str | None = None) -> str:
    raw = orjson.dumps([key, version_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str | None]:
    """Raises ValueError for a cursor this view did not make."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key, version_id = orjson.loads(raw)
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise ValueError("The continuation cursor is not valid") from None
    if not isinstance(key, str) or not (version_id is None or isinstance(version_id, str)):
        raise ValueError("The continuation cursor is not valid")
    return key, version_id


def rolled_up(key: str, prefix: str, delimiter: str) -> str | None:
    """The common prefix `key` rolls up into, if the delimiter follows the prefix."""
    if not delimiter:
        return None
    at = key.find(delimiter, len(prefix))
    return key[: at + len(delimiter)] if at >= 0 else None


def resume_point(ns: bytes, after: str, prefix: str, delimiter: str) -> bytes:
    if rolled_up(after, prefix, delimiter) == after:
        return ns + after.encode() + b"\xff"  # skip every key under that common prefix
    return ns + after.encode() + b"\x01"


def list_objects(
    views: ViewReader,
    bucket: str,
    prefix: str = "",
    delimiter: str = "",
    after: str = "",
    limit: int = 1000,
) -> ListPage:
    """Current versions in key order, as ListObjectsV2 pages them."""
    ns = _ns(b"L", bucket)
    start = max(ns + prefix.encode(), resume_point(ns, after, prefix, delimiter) if after else b"")
    return _page(views, ns, start, prefix, delimiter, limit, versions=False)


def list_versions(
    views: ViewReader,
    bucket: str,
    prefix: str = "",
    delimiter: str = "",
    after_key: str = "",
    after_version_id: str | None = None,
    limit: int = 1000,
) -> ListPage:
    """Every version and delete marker, by key, newest first within a key."""
    ns = _ns(b"V", bucket)
    start = ns + prefix.encode()
    inside_key = None
    if after_key:
        resume = resume_point(ns, after_key, prefix, delimiter)
        if after_version_id is not None:
            ikey = _index_key(bucket, after_key, after_version_id)
            vkey = views.get(ikey)
            if vkey is not None:
                resume = vkey + b"\x00"
                inside_key = after_key  # the page goes on with older versions of this key
        start = max(start, resume)
    return _page(views, ns, start, prefix, delimiter, limit, versions=True, inside_key=inside_key)


def _page(
    views: ViewReader,
    ns: bytes,
    start: bytes,
    prefix: str,
    delimiter: str,
    limit: int,
    versions: bool,
    inside_key: str | None = None,
) -> ListPage:
    stop = prefix_end(ns + prefix.encode())
    entries: list[ListedVersion] = []
    prefixes: list[str] = []
    last_key: str | None = inside_key
    last_version: str | None = None
    truncated = False
    while start < stop and not truncated:
        restart_at = None
        for raw_key, raw_value in views.scan(start, stop):
            key_bytes = raw_key[len(ns) :]
            if versions:  # the suffix is b"\0" and 8 bytes that may hold any byte
                key_bytes = key_bytes[:-9]
            key = key_bytes.decode()
            common = rolled_up(key, prefix, delimiter)
            if len(entries) + len(prefixes) >= limit:
                truncated = True
                break
            if common is not None:
                prefixes.append(common)
                last_key, last_version = common, None
                restart_at = ns + common.encode() + b"\xff"
                break
            summary = orjson.loads(raw_value)
            is_latest = not versions or key != last_key
            entries.append(
                ListedVersion(
                    key=key,
                    version_id=summary["version_id"],
                    is_delete_marker=summary["is_delete_marker"],
                    is_latest=is_latest,
                    size=summary["size"],
                    etag=summary["etag"],
                    last_modified=summary["last_modified"],
                    content_type=summary["content_type"],
                    owner=summary["owner"],
                )
            )
            last_key, last_version = key, summary["version_id"] if versions else None
        if restart_at is None:
            break
        start = restart_at
    if last_key == inside_key and not entries and not prefixes:
        last_key = None
    return ListPage(
        entries,
        prefixes,
        truncated,
        last_key if truncated else None,
        last_version if truncated else None,
    )


def versions_by_key(views: ViewReader, bucket: str, prefix: str = ""
                    ) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Every key under `prefix` with its versions and delete markers, newest first (their
    listing summaries): one scan, for workers that visit a whole bucket."""
    ns = _ns(b"V", bucket)
    start = ns + prefix.encode()
    current: str | None = None
    rows: list[dict[str, Any]] = []
    for raw_key, raw_value in views.scan(start, prefix_end(start)):
        key = raw_key[len(ns):-9].decode()
        if key != current:
            if current is not None:
                yield current, rows
            current, rows = key, []
        rows.append(orjson.loads(raw_value))
    if current is not None:
        yield current, rows


KEPT_BENEATH = -1  # put_by: the version was written beneath a newer one, not as newest


def put_by(views: ViewReader, bucket: str, key: str, version_id: str) -> int | None:
    """The aggregate version of the event that put `version_id` as the key's newest
    (its row's number); KEPT_BENEATH if it was kept beneath a newer one; None if the
    view has not placed it (the view trails the store a moment, or it is gone)."""
    vkey = views.get(_index_key(bucket, key, version_id))
    if vkey is None:
        return None
    number = _row_number(vkey)
    return KEPT_BENEATH if number % (1 << _ROOM) else number >> _ROOM


def current_row(views: ViewReader, bucket: str, key: str) -> bytes | None:
    """The key's listing row (its current version's summary); None when it has none."""
    return views.get(_ns(b"L", bucket) + key.encode())


def is_bucket_empty(views: ViewReader, bucket: str) -> bool:
    ns = _ns(b"V", bucket)
    return next(views.scan(ns, prefix_end(ns)), None) is None


def bucket_stats(views: ViewReader, bucket: str) -> BucketStats:
    raw = views.get(b"S/" + bucket.encode())
    return BucketStats(**orjson.loads(raw)) if raw else BucketStats()
