"""Multipart uploads in progress, per bucket, for ListMultipartUploads.

U/<bucket>\\0<key>\\0<upload id>   {"owner", "initiated"}; upload ids sort by time
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import singledispatchmethod
from typing import Any

import orjson

from domain.uploads import MultipartUpload
from projections.base import ViewReader, ViewTransaction, prefix_end
from projections.object_listing import rolled_up


def _ns(bucket: str) -> bytes:
    return b"U/" + bucket.encode() + b"\x00"


def _entry_key(bucket: str, key: str, upload_id: str) -> bytes:
    return _ns(bucket) + key.encode() + b"\x00" + upload_id.encode()


class UploadsProjection:
    name = "uploads"
    prefixes: tuple[bytes, ...] = (b"U/",)
    ranged: tuple[bytes, ...] = ()

    @singledispatchmethod
    def process(self, event: Any, position: int, tx: ViewTransaction) -> None:
        """Events this view does not need change nothing."""

    @process.register
    def _(self, event: MultipartUpload.Initiated, position: int, tx: ViewTransaction) -> None:
        tx.put(
            _entry_key(event.bucket, event.key, event.upload_id),
            orjson.dumps(
                {"owner": event.template["owner"], "initiated": event.timestamp.isoformat()}
            ),
        )

    @process.register
    def _(self, event: MultipartUpload.Completed, position: int, tx: ViewTransaction) -> None:
        tx.delete(_entry_key(event.bucket, event.key, event.upload_id))

    @process.register
    def _(self, event: MultipartUpload.Aborted, position: int, tx: ViewTransaction) -> None:
        tx.delete(_entry_key(event.bucket, event.key, event.upload_id))


@dataclass(frozen=True)
class ListedUpload:
    key: str
    upload_id: str
    owner: str
    initiated: str


@dataclass(frozen=True)
class UploadPage:
    uploads: list[ListedUpload]
    common_prefixes: list[str]
    is_truncated: bool
    next_key: str | None
    next_upload_id: str | None


def list_uploads(
    views: ViewReader,
    bucket: str,
    prefix: str = "",
    delimiter: str = "",
    key_marker: str = "",
    upload_id_marker: str = "",
    limit: int = 1000,
) -> UploadPage:
    """Uploads in key order (then upload id), S3's order for ListMultipartUploads."""
    ns = _ns(bucket)
    start = ns + prefix.encode()
    if key_marker:
        after = ns + key_marker.encode() + (
            b"\x00" + upload_id_marker.encode() + b"\x00" if upload_id_marker else b"\x01"
        )
        start = max(start, after)
    stop = prefix_end(ns + prefix.encode())
    uploads: list[ListedUpload] = []
    prefixes: list[str] = []
    truncated = False
    for raw_key, raw_value in views.scan(start, stop):
        key, _, upload_id = raw_key[len(ns):].decode().rpartition("\x00")
        rolled = rolled_up(key, prefix, delimiter)
        if rolled is not None and prefixes and prefixes[-1] == rolled:
            continue
        if len(uploads) + len(prefixes) >= limit:
            truncated = True
            break
        if rolled is not None:
            prefixes.append(rolled)
            continue
        value = orjson.loads(raw_value)
        uploads.append(ListedUpload(key, upload_id, value["owner"], value["initiated"]))
    next_key = next_upload = None
    if truncated and uploads:
        next_key, next_upload = uploads[-1].key, uploads[-1].upload_id
    elif truncated and prefixes:
        next_key = prefixes[-1]
    return UploadPage(uploads, prefixes, truncated, next_key, next_upload)


def has_uploads(views: ViewReader, bucket: str) -> bool:
    ns = _ns(bucket)
    return next(views.scan(ns, prefix_end(ns)), None) is not None


def every_upload(views: ViewReader, bucket: str) -> Iterator[ListedUpload]:
    """Every upload in progress in the bucket, in key order."""
    ns = _ns(bucket)
    for raw_key, raw_value in views.scan(ns, prefix_end(ns)):
        key, _, upload_id = raw_key[len(ns):].decode().rpartition("\x00")
        value = orjson.loads(raw_value)
        yield ListedUpload(key, upload_id, value["owner"], value["initiated"])
