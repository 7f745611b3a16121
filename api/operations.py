"""Object operations shared by both doors: they call the same commands and queries."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from datetime import datetime

from api.blocking import iterate_blocking
from api.sse import open_range
from api.system import System
from domain.application import ObjectInfo
from domain.errors import KeyUnavailable
from domain.ports import Piece
from domain.records import NULL_VERSION, Acl, Content, RequestMeta, Version

# Representation headers an object keeps and serves back, as S3 does.
KEPT_HEADERS = (
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
)
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_version_id(now: datetime) -> str:
    """A 26-character id that sorts by creation time (ULID layout)."""
    value = (int(now.timestamp() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def new_version(
    content: Content,
    owner: str,
    acl: Acl,
    now: datetime,
    content_type: str,
    headers: dict[str, str],
    user_metadata: dict[str, str],
) -> Version:
    return {
        "version_id": new_version_id(now),
        "is_delete_marker": False,
        "created_at": now.isoformat(),
        "owner": owner,
        "size": content["size"],
        "etag": content["etag"],
        "sha256": content["sha256"],
        "chunks": content["chunks"],
        "content_type": content_type or "application/octet-stream",
        "headers": headers,
        "user_metadata": user_metadata,
        "acl": acl,
    }


def delete_marker(owner: str, acl: Acl, now: datetime) -> Version:
    return {
        "version_id": new_version_id(now),
        "is_delete_marker": True,
        "created_at": now.isoformat(),
        "owner": owner,
        "size": 0,
        "etag": "",
        "sha256": "",
        "chunks": [],
        "content_type": "",
        "headers": {},
        "user_metadata": {},
        "acl": acl,
    }


def record_version(
    system: System,
    bucket: str,
    key: str,
    version: Version,
    meta: RequestMeta,
    now: datetime,
    if_match: str | None = None,
    if_none_match: bool = False,
) -> ObjectInfo:
    """Blocking: confirm the chunks are durable and protected from GC, then record."""
    system.blobs.confirm(version["chunks"])
    return system.store.put_object(
        bucket, key, version, meta, now, if_match, if_none_match
    )


def read_version(
    system: System, version: Version, byte_range: tuple[int, int] | None,
    data_key: bytes | None = None,
) -> Iterator[Piece]:
    """Blocking iterator over the bytes of a version, every chunk verified first; an
    encrypted version's opened with `data_key` (frames that fail their tag are errors)."""
    start, end = byte_range or (0, version["size"])
    encryption = version.get("encryption")
    if encryption is not None:
        if data_key is None:
            raise KeyUnavailable("This object is encrypted and its key was not given")
        yield from open_range(system.blobs.read_chunk, version["chunks"], encryption,
                              data_key, start, end)
        return
    offset = 0
    for chunk in version["chunks"]:
        lo, hi = offset, offset + chunk["size"]
        offset = hi
        if hi <= start or lo >= end:
            continue
        yield from system.blobs.read_chunk(chunk, max(start, lo) - lo, min(end, hi) - lo)


async def stream_after(first: Piece, rest: Iterator[Piece]) -> AsyncIterator[Piece]:
    """`first` (already read on purpose, to fail before the status goes out), then the
    rest of a blocking iterator, each piece read in a worker thread."""
    if first:
        yield first
    async for piece in iterate_blocking(rest):
        yield piece


def display_version_id(version_id: str) -> str:
    return version_id if version_id else NULL_VERSION
