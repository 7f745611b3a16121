"""A SiteLink to another vendor's S3 store (a "foreign sink"): changes are replayed
through the S3 protocol, with the fidelity S3 allows.

- A version put becomes a PutObject (multipart above 8 MiB, streamed from this site's
  chunks) with the content type, the kept headers and the user metadata; the origin's
  version id, time and position travel as user metadata (`strata-version-id`,
  `strata-last-modified`, `strata-origin-site`, `strata-origin-position`), since the
  store gives the object its own version id and time.
- A delete marker becomes a DeleteObject (a marker where the bucket is versioned).
- Removing a specific version and ACL changes do not travel: the store's version ids
  are not the origin's, and ACL grants name this site's users. S3's own replication does
  not replicate permanent version deletes either. They answer "unchanged".
- Chunks do not travel apart (the store has no content addressing): the sender is told
  none is missing, and each put reads its chunks here.
- Sent twice, a change is applied once: before a put or a marker the key's current
  version is looked at, and a put whose origin position is already there, or a marker
  over a marker, changes nothing.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from domain.errors import SiteUnreachable
from domain.ports import Applied, BlobStore, Piece
from domain.records import Version

_HEADER_ARGS = {"cache-control": "CacheControl", "content-disposition": "ContentDisposition",
                "content-encoding": "ContentEncoding", "content-language": "ContentLanguage"}
_TRANSFER = TransferConfig(multipart_threshold=8 * 1024 * 1024,
                           multipart_chunksize=8 * 1024 * 1024, use_threads=False)
S3_SCHEME = "s3+"  # a site registered as s3+http(s)://host:port is another vendor's store


class ChunkReader(io.RawIOBase):
    """A version's bytes as a file, read chunk by chunk from this site's blob store."""

    def __init__(self, pieces: Iterator[Piece]) -> None:
        self._pieces = pieces
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer:
            piece = next(self._pieces, None)
            if piece is None:
                return 0
            self._buffer = bytes(piece)
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size


class S3SiteLink:
    def __init__(self, name: str, endpoint: str, access_key: str, secret_key: str,
                 blobs: BlobStore, region: str = "us-east-1") -> None:
        self._name = name
        self._blobs = blobs
        self._s3 = boto3.client(
            "s3", endpoint_url=endpoint.removeprefix(S3_SCHEME), aws_access_key_id=access_key,
            aws_secret_access_key=secret_key, region_name=region,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                          retries={"max_attempts": 2}, connect_timeout=5, read_timeout=60))

    def site_name(self) -> str:
        return self._name  # such a store never sends anything back: no loop to guard

    def missing_chunks(self, digests: list[str]) -> list[str]:
        return []

    def send_chunk(self, digest: str, data: bytes) -> None:
        raise AssertionError("no chunk is sent to an S3 store on its own")

    def send_chunks(self, chunks: list[tuple[str, bytes]]) -> None:
        raise AssertionError("no chunk is sent to an S3 store on its own")

    def apply(self, changes: list[dict[str, Any]]) -> list[Applied]:
        return [self._apply_one(change) for change in changes]

    def close(self) -> None:
        self._s3.close()

    def _apply_one(self, change: dict[str, Any]) -> Applied:
        try:
            if change["kind"] == "put":
                return self._put(change)
            if change["kind"] == "marker":
                return self._mark_deleted(change)
            return Applied("unchanged", "", "version removals and ACL changes do not "
                           "travel to an S3 store")
        except ClientError as exc:
            error = exc.response.get("Error", {})
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
            if status >= 500 or status == 0:
                raise self._unreachable(exc) from None
            return Applied("refused", str(error.get("Code", status)),
                           str(error.get("Message", ""))[:1024])
        except BotoCoreError as exc:
            raise self._unreachable(exc) from None

    def _current(self, bucket: str, key: str) -> dict[str, Any] | None:
        """The key's current version there (its user metadata), {"marker": True} under
        a delete marker, or None when it has none."""
        try:
            return dict(self._s3.head_object(Bucket=bucket, Key=key))
        except ClientError as exc:
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
            if status != 404:
                raise
            headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
            return {"marker": True} if headers.get("x-amz-delete-marker") == "true" else None

    def _put(self, change: dict[str, Any]) -> Applied:
        bucket, key = change["bucket"], change["key"]
        version: Version = change["version"]
        if "encryption" in version:  # its chunks are sealed: never send them as the object
            return Applied("refused", "EncryptedObject", "server-side encrypted objects do "
                           "not travel to an S3 store yet")
        here = self._current(bucket, key)
        there = (here or {}).get("Metadata", {})
        if there.get("strata-origin-site") == change["origin_site"] and \
                int(there.get("strata-origin-position", 0)) >= change["origin_position"]:
            return Applied("unchanged", "", "")
        extra: dict[str, Any] = {
            "ContentType": version["content_type"] or "application/octet-stream",
            "Metadata": {**version["user_metadata"],
                         "strata-version-id": version["version_id"],
                         "strata-last-modified": version["created_at"],
                         "strata-origin-site": change["origin_site"],
                         "strata-origin-position": str(change["origin_position"])},
        }
        for header, value in version["headers"].items():
            if header in _HEADER_ARGS:
                extra[_HEADER_ARGS[header]] = value
            elif header == "expires":
                # S3 keeps an unparsable Expires as it is; boto3 will not: left out
                with contextlib.suppress(TypeError, ValueError):
                    extra["Expires"] = parsedate_to_datetime(value)
        pieces = (piece for chunk in version["chunks"] for piece in self._blobs.read_chunk(chunk))
        reader = io.BufferedReader(ChunkReader(pieces), 1024 * 1024)
        self._s3.upload_fileobj(reader, bucket, key, ExtraArgs=extra, Config=_TRANSFER)
        return Applied("applied", "", "")

    def _mark_deleted(self, change: dict[str, Any]) -> Applied:
        bucket, key = change["bucket"], change["key"]
        current = self._current(bucket, key)
        if current is None or current.get("marker"):
            return Applied("unchanged", "", "")
        self._s3.delete_object(Bucket=bucket, Key=key)
        return Applied("applied", "", "")

    def _unreachable(self, exc: Exception) -> SiteUnreachable:
        return SiteUnreachable(f"site {self._name} (S3) failed: {exc}"[:512], site=self._name)
