"""The bucket view: every live bucket with its owner, versioning state and ACL.

B/<bucket>   JSON record of the bucket's current generation (absent once deleted)
BR/<bucket>  its retention in seconds, when set

The chunk reference view reads a bucket's retention from here in the same batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import singledispatchmethod
from typing import Any

import orjson

from domain.buckets import UNVERSIONED, Bucket
from domain.records import Acl, InventoryConfig
from projections.base import ViewReader, ViewTransaction, prefix_end


@dataclass(frozen=True)
class BucketRecord:
    name: str
    owner: str
    created_at: str
    region: str
    versioning: str
    acl: Acl
    retention_seconds: int = 0
    inventory: InventoryConfig | None = None
    upload_expiry_seconds: int | None = None


class BucketsProjection:
    name = "buckets"
    prefixes: tuple[bytes, ...] = (b"B/", b"BR/")
    ranged: tuple[bytes, ...] = ()

    @singledispatchmethod
    def process(self, event: Any, position: int, tx: ViewTransaction) -> None:
        """Events this view does not need change nothing."""

    @process.register
    def _(self, event: Bucket.Created, position: int, tx: ViewTransaction) -> None:
        self._start(tx, event.name, event)

    @process.register
    def _(self, event: Bucket.Recreated, position: int, tx: ViewTransaction) -> None:
        self._start(tx, event.name, event)

    @process.register
    def _(self, event: Bucket.Deleted, position: int, tx: ViewTransaction) -> None:
        tx.delete(b"B/" + event.name.encode())
        tx.delete(b"BR/" + event.name.encode())

    @process.register
    def _(self, event: Bucket.VersioningChanged, position: int, tx: ViewTransaction) -> None:
        self._update(tx, event, versioning=event.status)

    @process.register
    def _(self, event: Bucket.AclChanged, position: int, tx: ViewTransaction) -> None:
        self._update(tx, event, acl=event.acl)

    @process.register
    def _(self, event: Bucket.RetentionChanged, position: int, tx: ViewTransaction) -> None:
        self._update(tx, event, retention_seconds=event.seconds)
        tx.put(b"BR/" + event.name.encode(), b"%d" % event.seconds)

    @process.register
    def _(self, event: Bucket.InventoryConfigured, position: int, tx: ViewTransaction) -> None:
        self._update(tx, event, inventory=event.inventory)

    @process.register
    def _(self, event: Bucket.UploadExpiryChanged, position: int, tx: ViewTransaction) -> None:
        self._update(tx, event, upload_expiry_seconds=event.seconds)

    def _start(self, tx: ViewTransaction, name: str, event: Any) -> None:
        record = {
            "name": name,
            "owner": event.owner,
            "created_at": event.timestamp.isoformat(),
            "region": event.region,
            "versioning": UNVERSIONED,
            "acl": event.acl,
        }
        tx.put(b"B/" + name.encode(), orjson.dumps(record))

    def _update(self, tx: ViewTransaction, event: Any, **changes: Any) -> None:
        key = b"B/" + event.name.encode()
        raw = tx.get(key)
        if raw is not None:
            tx.put(key, orjson.dumps({**orjson.loads(raw), **changes}))


def list_buckets(views: ViewReader) -> list[BucketRecord]:
    return [BucketRecord(**orjson.loads(v)) for _, v in views.scan(b"B/", prefix_end(b"B/"))]


def get_bucket(views: ViewReader, name: str) -> BucketRecord | None:
    raw = views.get(b"B/" + name.encode())
    return BucketRecord(**orjson.loads(raw)) if raw else None


def retention_of(views: ViewReader, name: str) -> int:
    """How long the bucket keeps superseded data readable (0: the GC grace alone).
    Kept under a key of its own: every release of a chunk reads it."""
    raw = views.get(b"BR/" + name.encode())
    return int(raw) if raw else 0
