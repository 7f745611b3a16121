"""Inventory exports into a bucket: Parquet written to scratch, stored as an object."""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from domain.access import canned_acl
from domain.application import ObjectStore
from domain.chunking import store_pieces
from domain.ports import BlobStore
from domain.records import Acl, Content, RequestMeta, Version
from infra.exports.parquet import write_inventory
from projections.base import ViewReader
from projections.inventory import inventory_rows

PARQUET_TYPE = "application/vnd.apache.parquet"
# content, owner, acl, time, content type, headers, user metadata -> a new version (its
# id made as the doors make them: api.operations.new_version, given by the composition root)
NewVersion = Callable[
    [Content, str, Acl, datetime, str, dict[str, str], dict[str, str]], Version
]
READ_PIECE = 1024 * 1024


@dataclass(frozen=True)
class Exported:
    bucket: str
    key: str
    rows: int
    size: int


class InventoryExporter:
    def __init__(
        self,
        store: ObjectStore,
        views: ViewReader,
        blobs: BlobStore,
        chunk_size: int,
        scratch: Path,
        clock: Callable[[], datetime],
        new_version: NewVersion,
    ) -> None:
        self._store = store
        self._views = views
        self._blobs = blobs
        self._chunk_size = chunk_size
        self._scratch = scratch
        self._clock = clock
        self._new_version = new_version

    def export(
        self,
        bucket: str,
        destination: str,
        key: str,
        meta: RequestMeta,
        moment: datetime | None = None,
    ) -> Exported:
        """Blocking: `bucket`'s inventory (as of `moment`, or every version now) as the
        Parquet object `destination`/`key`, owned by the destination's owner."""
        owner = self._store.get_bucket(destination).owner
        self._scratch.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=self._scratch) as scratch:
            rows = write_inventory(inventory_rows(self._views, bucket, moment), scratch)
            scratch.seek(0)
            pieces = iter(functools.partial(scratch.read, READ_PIECE), b"")
            content = store_pieces(pieces, self._blobs, self._chunk_size)
        stamp = self._clock()
        version = self._new_version(
            content, owner, canned_acl("private", owner), stamp, PARQUET_TYPE, {},
            {"source-bucket": bucket, "rows": str(rows)},
        )
        self._blobs.confirm(version["chunks"])
        self._store.put_object(destination, key, version, meta, stamp)
        return Exported(destination, key, rows, content["size"])
