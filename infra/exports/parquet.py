"""Parquet files with pyarrow, written in row groups so memory stays flat: a bucket's
inventory (S3 Inventory's columns) and the event log partitioned by day."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

ROW_GROUP = 16_384

INVENTORY_SCHEMA = pa.schema(
    [
        ("bucket", pa.string()),
        ("key", pa.string()),
        ("version_id", pa.string()),
        ("is_latest", pa.bool_()),
        ("is_delete_marker", pa.bool_()),
        ("size", pa.int64()),
        ("last_modified", pa.timestamp("us", tz="UTC")),
        ("etag", pa.string()),
        ("checksum", pa.string()),
        ("replica_count", pa.int32()),
        ("tags", pa.map_(pa.string(), pa.string())),
    ]
)

AUDIT_SCHEMA = pa.schema(
    [
        ("position", pa.int64()),
        ("event_id", pa.string()),
        ("type", pa.string()),
        ("name", pa.string()),
        ("time", pa.timestamp("us", tz="UTC")),
        ("bucket", pa.string()),
        ("key", pa.string()),
        ("version_id", pa.string()),
        ("actor", pa.string()),
        ("user", pa.string()),
        ("request_id", pa.string()),
        ("source", pa.string()),
        ("user_agent", pa.string()),
        ("data", pa.string()),  # the event's own fields, as JSON
    ]
)

Progress = Callable[[int], None]


def _table(rows: list[dict[str, Any]], schema: pa.Schema, times: tuple[str, ...]) -> pa.Table:
    columns = {name: [row[name] for row in rows] for name in schema.names}
    for name in times:
        columns[name] = [datetime.fromisoformat(v) for v in columns[name]]
    if "tags" in columns:  # a map column: (key, value) pairs
        columns["tags"] = [sorted(tags.items()) for tags in columns["tags"]]
    return pa.Table.from_pydict(columns, schema=schema)


def write_inventory(
    rows: Iterable[dict[str, Any]], sink: str | Path | BinaryIO, progress: Progress | None = None
) -> int:
    """Write inventory rows to `sink` in row groups; the number of rows written."""
    written = 0
    batch: list[dict[str, Any]] = []
    with pq.ParquetWriter(sink, INVENTORY_SCHEMA, compression="zstd") as writer:
        for row in rows:
            batch.append(row)
            if len(batch) == ROW_GROUP:
                writer.write_table(_table(batch, INVENTORY_SCHEMA, ("last_modified",)))
                written += len(batch)
                batch.clear()
                if progress is not None:
                    progress(written)
        if batch or written == 0:
            writer.write_table(_table(batch, INVENTORY_SCHEMA, ("last_modified",)))
            written += len(batch)
    if progress is not None:
        progress(written)
    return written


class DailyAuditWriter:
    """The event log as `<root>/day=YYYY-MM-DD/part-N.parquet`, one row group per
    ROW_GROUP events. A day seen again after another (clocks disagree a little near
    midnight) gets a further part file, never a rewrite."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._day: str | None = None
        self._writer: pq.ParquetWriter | None = None
        self._batch: list[dict[str, Any]] = []
        self._parts: dict[str, int] = {}
        self.files: list[Path] = []
        self.rows = 0

    def add(self, record: dict[str, Any]) -> None:
        day = record["time"][:10]
        if day != self._day:
            self._close_day()
            self._open_day(day)
        self._batch.append({**record, "data": orjson.dumps(record["data"]).decode()})
        if len(self._batch) == ROW_GROUP:
            self._flush()

    def _open_day(self, day: str) -> None:
        part = self._parts.get(day, 0)
        self._parts[day] = part + 1
        folder = self._root / f"day={day}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"part-{part}.parquet"
        self._writer = pq.ParquetWriter(path, AUDIT_SCHEMA, compression="zstd")
        self._day = day
        self.files.append(path)

    def _flush(self) -> None:
        if self._batch and self._writer is not None:
            self._writer.write_table(_table(self._batch, AUDIT_SCHEMA, ("time",)))
            self.rows += len(self._batch)
            self._batch.clear()

    def _close_day(self) -> None:
        self._flush()
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def close(self) -> None:
        self._close_day()
