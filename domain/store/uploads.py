"""Multipart upload commands."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from eventsourcing.application import AggregateNotFoundError

from domain.errors import (
    NoSuchUpload,
)
from domain.lock import locked_new_version
from domain.objects import ObjectKey
from domain.public_access import check_acl_allowed
from domain.records import RequestMeta, Version
from domain.store.core import StoreCore, with_version_id
from domain.store.results import (
    ObjectInfo,
)
from domain.uploads import MultipartUpload, ObjectTemplate, UploadedPart


class UploadCommands(StoreCore):

    def create_multipart_upload(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        template: ObjectTemplate,
        meta: RequestMeta,
        now: datetime,
    ) -> None:
        with self.gate.shared(bucket):
            check_acl_allowed(template["acl"], self.get_bucket(bucket).blocked)
            self._save(MultipartUpload.initiate(bucket, key, upload_id, template, meta, now))

    def get_upload(self, bucket: str, key: str, upload_id: str) -> MultipartUpload:
        """The open upload `upload_id` of `bucket`/`key`; NoSuchUpload otherwise."""
        self._bucket(bucket, query=True)
        try:
            upload: MultipartUpload = self.repository.get(MultipartUpload.create_id(upload_id))
        except AggregateNotFoundError:
            raise NoSuchUpload(
                "The specified upload does not exist. The upload ID may be invalid, or the "
                "upload may have been aborted or completed.",
                bucket=bucket, key=key, upload_id=upload_id,
            ) from None
        upload.ensure_open(bucket, key)
        return upload

    def upload_part(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        part: UploadedPart,
        meta: RequestMeta,
        now: datetime,
    ) -> int:
        def attempt() -> int:
            upload = self.get_upload(bucket, key, upload_id)
            upload.add_part(part, meta, now)
            return self._save(upload)

        return self._retrying(attempt, MultipartUpload.create_id(upload_id))

    def complete_multipart_upload(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        requested: list[tuple[int, str]],
        version_id: str,
        meta: RequestMeta,
        now: datetime,
        if_match: str | None = None,
        if_none_match: bool = False,
        checksum_of: Callable[[Version], dict[str, object]] | None = None,
    ) -> tuple[ObjectInfo, MultipartUpload]:
        """The parts become the key's new version and the upload ends, in one commit.
        Returns the version and the completed upload (its parts, as they were used).
        `checksum_of(version)`: the whole object's checksum fields, from its parts' (it
        may refuse, and then nothing is recorded)."""

        def attempt() -> tuple[ObjectInfo, MultipartUpload]:
            with self.gate.shared(bucket):
                info = self.get_bucket(bucket)
                upload = self.get_upload(bucket, key, upload_id)
                version = upload.assemble(requested, version_id, now.isoformat())
                if checksum_of is not None:
                    version = {**version, **checksum_of(version)}  # type: ignore[typeddict-item]
                obj = self._object_key_or_new(bucket, key, now)
                obj.check_write_condition(if_match, if_none_match)
                stored = locked_new_version(with_version_id(version, info.versioning),
                                            info.object_lock, now)
                obj.put_version(stored, info.versioning, meta, now)
                upload.complete(stored["version_id"], meta, now)
                return ObjectInfo(bucket, key, stored, self._save(obj, upload)), upload

        return self._retrying(attempt, ObjectKey.create_id(bucket, key))

    def abort_multipart_upload(
        self, bucket: str, key: str, upload_id: str, meta: RequestMeta, now: datetime
    ) -> int:
        def attempt() -> int:
            upload = self.get_upload(bucket, key, upload_id)
            upload.abort(meta, now)
            return self._save(upload)

        return self._retrying(attempt, MultipartUpload.create_id(upload_id))
