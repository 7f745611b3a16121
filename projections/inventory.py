"""Inventory rows (S3 Inventory's fields) from the listing view and the time index."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import orjson

from projections.base import ViewReader, prefix_end
from projections.time_index import rows_as_of

_SEQ_SUFFIX = 9  # b"\0" + the 8-byte newest-first sequence of V/ rows


def _row(bucket: str, key: str, summary: dict[str, Any], is_latest: bool) -> dict[str, Any]:
    marker = bool(summary["is_delete_marker"])
    return {
        "bucket": bucket,
        "key": key,
        "version_id": summary["version_id"],
        "is_latest": is_latest,
        "is_delete_marker": marker,
        "size": summary["size"],
        "last_modified": summary["last_modified"],
        "etag": summary["etag"],
        "checksum": summary.get("sha256", ""),
        # Embedded, every chunk has one (local) replica; a marker has no data.
        "replica_count": 0 if marker else 1,
        "tags": summary.get("tags", {}),
    }


def inventory_rows(
    views: ViewReader, bucket: str, moment: datetime | None = None, current_only: bool = False
) -> Iterator[dict[str, Any]]:
    """Every version and delete marker in key order (newest first within a key); only
    current versions with `current_only`; the current versions at `moment` with one."""
    if moment is not None:
        for key, summary in rows_as_of(views, bucket, moment):
            yield _row(bucket, key, summary, True)
        return
    ns = (b"L/" if current_only else b"V/") + bucket.encode() + b"/"
    previous = b""
    for raw_key, raw in views.scan(ns, prefix_end(ns)):
        name = raw_key[len(ns) :] if current_only else raw_key[len(ns) : -_SEQ_SUFFIX]
        yield _row(bucket, name.decode(), orjson.loads(raw), name != previous)
        previous = name
