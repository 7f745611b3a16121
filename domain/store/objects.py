"""Object commands and the strongly consistent object reads."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

from eventsourcing.application import AggregateNotFoundError

from domain.buckets import ENABLED, UNVERSIONED
from domain.errors import (
    NoSuchKey,
    ObjectLockNotEnabled,
    ReplicationNeedsVersioning,
)
from domain.geo import ReplicatedChange, change_time
from domain.lock import locked_new_version
from domain.names import validate_object_key
from domain.objects import ObjectKey
from domain.public_access import check_acl_allowed
from domain.records import Acl, RequestMeta, Retention, Version, WrappedKey
from domain.store.core import StoreCore, with_version_id
from domain.store.results import (
    DeleteResult,
    ObjectInfo,
)
from domain.tags import MAX_OBJECT_TAGS, check_tags


class ObjectCommands(StoreCore):
    def put_object(
        self,
        bucket: str,
        key: str,
        version: Version,
        meta: RequestMeta,
        now: datetime,
        if_match: str | None = None,
        if_none_match: bool = False,
    ) -> ObjectInfo:
        """Record `version` as the key's current version.

        `version["version_id"]` is used when versioning is enabled; otherwise the
        version is stored as `null`. The chunks must already be durable. The write
        conditions are checked against the version this write replaces, atomically.
        """

        def attempt() -> ObjectInfo:
            with self.gate.shared(bucket):
                info = self.get_bucket(bucket)
                obj = self._object_key_or_new(bucket, key, now)
                obj.check_write_condition(if_match, if_none_match)
                check_acl_allowed(version["acl"], info.blocked)
                stored = locked_new_version(with_version_id(version, info.versioning),
                                            info.object_lock, now)
                obj.put_version(stored, info.versioning, meta, now)
                return ObjectInfo(bucket, key, stored, self._save(obj))

        return self._retrying(attempt, ObjectKey.create_id(bucket, key))

    def apply_replicated(self, bucket: str, change: ReplicatedChange) -> int:
        """Record a change another site made (geo-replication) with its original time
        and actor; the position written, or 0 when it changed nothing (applied before).
        The chunks of a version must already be here."""
        key = change["key"]
        moment = change_time(change)
        if change["kind"] in ("put", "marker"):  # S3's x-amz-replication-status: REPLICA
            replica = {**change["version"], "replica_of": change["origin_site"]}
            change = cast(ReplicatedChange, {**change, "version": replica})
        meta: RequestMeta = {**change["meta"], "origin_site": change["origin_site"],
                             "origin_position": change["origin_position"]}

        def attempt() -> int:
            with self.gate.shared(bucket):
                if self.get_bucket(bucket).versioning != ENABLED:
                    raise ReplicationNeedsVersioning(
                        "A bucket receives replicated changes only with versioning enabled",
                        bucket=bucket)
                obj = self._object_key_or_new(bucket, key, moment)
                if not obj.apply_replicated(change, meta, moment):
                    return 0  # applied before, or nothing here to remove or re-grant
                return self._save(obj)

        return self._retrying(attempt, ObjectKey.create_id(bucket, key))

    def get_object(self, bucket: str, key: str, version_id: str | None = None) -> ObjectInfo:
        obj = self._read_object_key(bucket, key)
        return ObjectInfo(bucket, key, obj.readable(version_id), 0)

    def get_object_at(self, bucket: str, key: str, aggregate_version: int) -> ObjectInfo:
        """The key's current version as it was after its event number `aggregate_version`
        (the time index says which event was in force at an instant)."""
        self._bucket(bucket, query=True)
        validate_object_key(key)
        try:
            obj: ObjectKey = self.repository.get(
                ObjectKey.create_id(bucket, key), version=aggregate_version
            )
        except AggregateNotFoundError:
            raise NoSuchKey("The specified key does not exist.", bucket=bucket, key=key) from None
        return ObjectInfo(bucket, key, obj.current(), 0)

    def object_events(self, bucket: str, key: str) -> list[Any]:
        """Every event of the key, oldest first (its history)."""
        validate_object_key(key)
        return list(self.events.get(ObjectKey.create_id(bucket, key)))

    def get_object_version_record(self, bucket: str, key: str, version_id: str) -> Version:
        """Any version, delete markers included (for metadata and history)."""
        return self._read_object_key(bucket, key).find_version(version_id)

    def object_acl(self, bucket: str, key: str, version_id: str | None = None) -> Acl:
        return self.get_object(bucket, key, version_id).version["acl"]

    def delete_object(
        self,
        bucket: str,
        key: str,
        version_id: str | None,
        marker: Version,
        meta: RequestMeta,
        now: datetime,
        bypass_governance: bool = False,
        expected_current: str | None = None,
    ) -> DeleteResult:
        """Delete as S3 does; deleting a key that does not exist succeeds and changes
        nothing. Object lock refuses removing a locked version (ObjectLocked). With
        `expected_current`, only while that version is still the key's current one (a
        lifecycle expiry never removes a version written after it decided)."""

        def attempt() -> DeleteResult:
            with self.gate.shared(bucket):
                info = self.get_bucket(bucket)
                try:
                    obj = self._object_key(bucket, key)
                except NoSuchKey:
                    if version_id is not None:
                        raise
                    if info.versioning == UNVERSIONED:
                        return DeleteResult(bucket, key, None, False, 0)
                    obj = ObjectKey.create(bucket, key, now)
                if expected_current is not None and (
                        obj.is_empty or obj.versions[-1]["version_id"] != expected_current):
                    return DeleteResult(bucket, key, None, False, 0)
                stored = with_version_id(marker, info.versioning)
                placed = obj.delete(version_id, info.versioning, stored, meta, now,
                                    bypass_governance)
                position = self._save(obj) if obj.pending_events else 0
                if placed is not None:
                    return DeleteResult(bucket, key, placed["version_id"], True, position)
                return DeleteResult(bucket, key, version_id, False, position)

        return self._retrying(attempt, ObjectKey.create_id(bucket, key))

    def set_object_acl(
        self,
        bucket: str,
        key: str,
        version_id: str | None,
        acl: Acl,
        meta: RequestMeta,
        now: datetime,
    ) -> int:
        def attempt() -> int:
            check_acl_allowed(acl, self.get_bucket(bucket).blocked)
            obj = self._object_key(bucket, key)
            obj.set_acl(version_id, acl, meta, now)
            return self._save(obj)

        return self._retrying(attempt, ObjectKey.create_id(bucket, key))

    def set_object_tags(self, bucket: str, key: str, version_id: str | None,
                        tags: dict[str, str], meta: RequestMeta, now: datetime) -> str:
        """Replace a version's tag set ({}: none); the version id it changed."""
        check_tags(tags, MAX_OBJECT_TAGS)

        def attempt() -> str:
            self._bucket(bucket, query=True)
            obj = self._object_key(bucket, key)
            changed = obj.set_tags(version_id, tags, meta, now)
            self._save(obj)
            return changed

        return self._retrying(attempt, ObjectKey.create_id(bucket, key))

    def set_object_retention(self, bucket: str, key: str, version_id: str | None,
                             retention: Retention | None, bypass_governance: bool,
                             meta: RequestMeta, now: datetime) -> str:
        return self._locking(bucket, key, lambda obj: obj.set_retention(
            version_id, retention, bypass_governance, meta, now))

    def set_object_legal_hold(self, bucket: str, key: str, version_id: str | None, on: bool,
                              meta: RequestMeta, now: datetime) -> str:
        return self._locking(bucket, key,
                             lambda obj: obj.set_legal_hold(version_id, on, meta, now))

    def _locking(self, bucket: str, key: str, change: Callable[[ObjectKey], str]) -> str:
        """An object lock change of a version (the version id it changed), in a bucket
        that has object lock."""
        def attempt() -> str:
            if self._bucket(bucket, query=True).object_lock is None:
                raise ObjectLockNotEnabled("Bucket is missing Object Lock Configuration",
                                           bucket=bucket)
            obj = self._object_key(bucket, key)
            changed = change(obj)
            self._save(obj)
            return changed

        return self._retrying(attempt, ObjectKey.create_id(bucket, key))

    def rewrap_data_key(self, bucket: str, key: str, version_id: str, wrapped: WrappedKey,
                        meta: RequestMeta, now: datetime) -> bool:
        """Record a version's data key wrapped anew (key rotation); False if it changed
        nothing (the version is gone, or wrapped otherwise)."""
        def attempt() -> bool:
            obj = self._object_key(bucket, key)
            if not obj.rewrap_data_key(version_id, wrapped, meta, now):
                return False
            self._save(obj)
            return True

        return self._retrying(attempt, ObjectKey.create_id(bucket, key))
