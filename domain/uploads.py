"""The MultipartUpload aggregate: parts arrive one by one, then become one version.

Completing an upload never rewrites bytes: the new version's chunk list is the
parts' chunk lists, in order.
"""

from __future__ import annotations

import functools
import hashlib
from datetime import datetime
from typing import Any, NotRequired, TypedDict
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import (
    EntityTooSmall,
    InvalidArgument,
    InvalidPart,
    InvalidPartOrder,
    NoSuchUpload,
)
from domain.names import validate_object_key
from domain.records import (
    Acl,
    Chunk,
    Encryption,
    Part,
    RequestMeta,
    Retention,
    Version,
    check_representation,
    check_user_metadata,
)

MIN_PART_BYTES = 5 * 1024 * 1024
MAX_PARTS = 10000
OPEN, COMPLETED, ABORTED = "open", "completed", "aborted"


class UploadedPart(TypedDict):
    number: int
    etag: str  # hex MD5 of the part
    size: int
    chunks: list[Chunk]
    last_modified: str
    checksum: dict[str, str]
    plain_sizes: NotRequired[list[int]]  # sealed chunks: the plaintext each holds


class ObjectTemplate(TypedDict):
    """What CreateMultipartUpload fixes for the object it will become."""

    owner: str
    content_type: str
    headers: dict[str, str]
    user_metadata: dict[str, str]
    acl: Acl
    checksum_algorithm: str
    checksum_type: NotRequired[str]  # COMPOSITE or FULL_OBJECT (S3's x-amz-checksum-type)
    tags: NotRequired[dict[str, str]]
    encryption: NotRequired[Encryption]  # the upload's wrapped data key (no plain_sizes)
    retention: NotRequired[Retention]
    legal_hold: NotRequired[bool]


def multipart_etag(md5_hexes: list[str]) -> str:
    joined = b"".join(bytes.fromhex(h) for h in md5_hexes)
    return f"{hashlib.md5(joined, usedforsecurity=False).hexdigest()}-{len(md5_hexes)}"


class MultipartUpload(Aggregate):
    class Initiated(Aggregate.Created):
        bucket: str
        key: str
        upload_id: str
        template: ObjectTemplate
        meta: RequestMeta

    class PartUploaded(Aggregate.Event):
        bucket: str
        key: str
        upload_id: str
        part: UploadedPart
        meta: RequestMeta

    class Completed(Aggregate.Event):
        bucket: str
        key: str
        upload_id: str
        version_id: str
        part_numbers: list[int]
        meta: RequestMeta

    class Aborted(Aggregate.Event):
        bucket: str
        key: str
        upload_id: str
        part_numbers: list[int]
        meta: RequestMeta

    @staticmethod
    @functools.lru_cache(maxsize=8192)  # ids are hashed on every request that names one
    def create_id(upload_id: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"/uploads/{upload_id}")

    @classmethod
    def initiate(
        cls,
        bucket: str,
        key: str,
        upload_id: str,
        template: ObjectTemplate,
        meta: RequestMeta,
        timestamp: datetime,
    ) -> MultipartUpload:
        validate_object_key(key)
        check_user_metadata(template["user_metadata"])
        check_representation(template["content_type"], template["headers"])
        return cls(
            bucket=bucket, key=key, upload_id=upload_id, template=template, meta=meta,
            timestamp=timestamp,
        )

    @event(Initiated)
    def __init__(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        template: ObjectTemplate,
        meta: RequestMeta,
        timestamp: datetime,
    ) -> None:
        self.bucket = bucket
        self.key = key
        self.upload_id = upload_id
        self.template = template
        self.initiated_at = timestamp
        self.parts: dict[int, UploadedPart] = {}
        self.state = OPEN

    def __deepcopy__(self, memo: dict[int, Any]) -> MultipartUpload:
        """The repository copies its cached aggregate for every command. Part records
        are never changed once made, so a copy shares them and copies only the dict
        that holds them: a part then costs the same at part 1 and part 10,000."""
        copied = object.__new__(type(self))
        copied.__dict__.update(self.__dict__)
        copied.parts = dict(self.parts)
        return copied

    def ensure_open(self, bucket: str, key: str) -> None:
        if self.state != OPEN or (bucket, key) != (self.bucket, self.key):
            raise NoSuchUpload(
                "The specified upload does not exist. The upload ID may be invalid, or the "
                "upload may have been aborted or completed.",
                bucket=bucket, key=key, upload_id=self.upload_id,
            )

    def add_part(self, part: UploadedPart, meta: RequestMeta, timestamp: datetime) -> None:
        if not 1 <= part["number"] <= MAX_PARTS:
            raise InvalidArgument(
                f"Part number must be an integer between 1 and {MAX_PARTS}, inclusive",
                part_number=part["number"],
            )
        self._part_uploaded(
            bucket=self.bucket, key=self.key, upload_id=self.upload_id, part=part, meta=meta,
            timestamp=timestamp,
        )

    @event(PartUploaded)
    def _part_uploaded(
        self, bucket: str, key: str, upload_id: str, part: UploadedPart, meta: RequestMeta,
        timestamp: datetime,
    ) -> None:
        self.parts[part["number"]] = part  # a copy for a command copies the dict (below)

    def assemble(
        self, requested: list[tuple[int, str]], version_id: str, created_at: str
    ) -> Version:
        """The version the requested parts make, checked as S3 checks them."""
        if not requested:
            raise InvalidArgument("You must specify at least one part")
        numbers = [n for n, _ in requested]
        if numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
            raise InvalidPartOrder(
                "The list of parts was not in ascending order. The parts list must be "
                "specified in order by part number.",
                upload_id=self.upload_id,
            )
        chosen: list[UploadedPart] = []
        for number, etag in requested:
            part = self.parts.get(number)
            if part is None or etag.strip().strip('"') != part["etag"]:
                raise InvalidPart(
                    "One or more of the specified parts could not be found. The part may not "
                    "have been uploaded, or the specified entity tag may not match the part's "
                    "entity tag.",
                    upload_id=self.upload_id, part_number=number,
                )
            chosen.append(part)
        for part in chosen[:-1]:
            if part["size"] < MIN_PART_BYTES:
                raise EntityTooSmall(
                    "Your proposed upload is smaller than the minimum allowed object size.",
                    upload_id=self.upload_id, part_number=part["number"],
                    size=part["size"], min_size=MIN_PART_BYTES,
                )
        template = self.template
        parts: list[Part] = [
            {"size": p["size"], "etag": p["etag"],
             **({"checksum": p["checksum"]} if p.get("checksum") else {})}  # type: ignore[typeddict-item]
            for p in chosen]
        version: Version = {
            "version_id": version_id,
            "is_delete_marker": False,
            "created_at": created_at,
            "owner": template["owner"],
            "size": sum(p["size"] for p in chosen),
            "etag": multipart_etag([p["etag"] for p in chosen]),
            "sha256": "",
            "chunks": [c for p in chosen for c in p["chunks"]],
            "content_type": template["content_type"],
            "headers": template["headers"],
            "user_metadata": template["user_metadata"],
            "acl": template["acl"],
            "parts": parts,
        }
        for name in ("tags", "retention", "legal_hold"):
            if template.get(name):
                version[name] = template[name]
        if "encryption" in template:
            version["encryption"] = {**template["encryption"], "plain_sizes": [
                size for p in chosen for size in p.get("plain_sizes", [])]}
            version["sha256"] = ""
        return version

    def complete(self, version_id: str, meta: RequestMeta, timestamp: datetime) -> None:
        self._completed(
            bucket=self.bucket, key=self.key, upload_id=self.upload_id, version_id=version_id,
            part_numbers=sorted(self.parts), meta=meta, timestamp=timestamp,
        )

    @event(Completed)
    def _completed(
        self, bucket: str, key: str, upload_id: str, version_id: str, part_numbers: list[int],
        meta: RequestMeta, timestamp: datetime,
    ) -> None:
        self.state = COMPLETED

    def abort(self, meta: RequestMeta, timestamp: datetime) -> None:
        self._aborted(
            bucket=self.bucket, key=self.key, upload_id=self.upload_id,
            part_numbers=sorted(self.parts), meta=meta, timestamp=timestamp,
        )

    @event(Aborted)
    def _aborted(
        self, bucket: str, key: str, upload_id: str, part_numbers: list[int],
        meta: RequestMeta, timestamp: datetime,
    ) -> None:
        self.state = ABORTED
