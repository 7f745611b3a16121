"""Bucket commands: create, delete, and the settings a bucket keeps."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from eventsourcing.application import AggregateNotFoundError

from domain.access import canned_acl
from domain.buckets import ENABLED, Bucket
from domain.cors import CorsRule
from domain.errors import (
    BucketAlreadyExists,
    BucketNotEmpty,
    ConflictingWrites,
    InvalidArgument,
)
from domain.lifecycle import LifecycleRule
from domain.lock import LockConfig
from domain.ports import BucketContents
from domain.public_access import PublicAccessBlock, check_acl_allowed
from domain.records import (
    Acl,
    DefaultEncryption,
    InventoryConfig,
    ReplicationRule,
    RequestMeta,
)
from domain.sites import Site
from domain.store.core import StoreCore
from domain.store.results import (
    BucketInfo,
    bucket_info,
)
from domain.uploads import OPEN, MultipartUpload


class BucketCommands(StoreCore):
    def create_bucket(
        self,
        name: str,
        owner: str,
        meta: RequestMeta,
        now: datetime,
        acl: Acl | None = None,
        region: str = "us-east-1",
        object_lock: bool = False,
    ) -> BucketInfo:
        """A new bucket; with `object_lock`, versioning and object lock are on from its
        first moment (S3's x-amz-bucket-object-lock-enabled), in the same commit."""
        acl = acl or canned_acl("private", owner)
        check_acl_allowed(acl, self.public_access_default)

        def attempt() -> BucketInfo:
            try:
                bucket: Bucket = self.repository.get(Bucket.create_id(name))
            except AggregateNotFoundError:
                bucket = Bucket.create(name, owner, acl, region, meta, now)
            else:
                bucket.recreate(owner, acl, region, meta, now)
            if object_lock:
                bucket.set_versioning(ENABLED, meta, now)
                bucket.configure_object_lock({"mode": None, "days": None, "years": None},
                                             meta, now)
            self._save(bucket)
            return bucket_info(bucket, self.public_access_default)

        try:
            return self._retrying(attempt, Bucket.create_id(name))
        except ConflictingWrites:
            raise BucketAlreadyExists("The requested bucket name is not available.") from None

    def delete_bucket(
        self, name: str, contents: BucketContents, meta: RequestMeta, now: datetime
    ) -> int:
        """Delete an empty bucket; multipart uploads still open in it are aborted in the
        same commit, as AWS does (their parts would otherwise outlive the bucket)."""
        with self.gate.exclusive(name):
            bucket = self._bucket(name)
            position = self.current_position()
            if not contents.is_empty(name, position):
                raise BucketNotEmpty("The bucket you tried to delete is not empty", bucket=name)
            aborted = []
            for _key, upload_id in contents.open_uploads(name, position):
                try:
                    upload: MultipartUpload = self.repository.get(
                        MultipartUpload.create_id(upload_id))
                except AggregateNotFoundError:
                    continue
                if upload.state == OPEN:
                    upload.abort(meta, now)
                    aborted.append(upload)
            bucket.delete(meta, now)
            return self._save(bucket, *aborted)

    def _changing_bucket(self, name: str, change: Callable[[Bucket], None]) -> BucketInfo:
        """get -> change -> save of one bucket, again when a concurrent write won."""
        def attempt() -> BucketInfo:
            bucket = self._bucket(name)
            change(bucket)
            self._save(bucket)
            return bucket_info(bucket, self.public_access_default)

        return self._retrying(attempt, Bucket.create_id(name))

    def set_bucket_versioning(
        self, name: str, status: str, meta: RequestMeta, now: datetime
    ) -> BucketInfo:
        return self._changing_bucket(name, lambda b: b.set_versioning(status, meta, now))

    def set_bucket_acl(self, name: str, acl: Acl, meta: RequestMeta, now: datetime) -> BucketInfo:
        return self._changing_bucket(
            name, lambda b: b.set_acl(acl, meta, now, self.public_access_default))

    def set_bucket_retention(
        self, name: str, seconds: int, meta: RequestMeta, now: datetime
    ) -> BucketInfo:
        return self._changing_bucket(name, lambda b: b.set_retention(seconds, meta, now))

    def set_bucket_upload_expiry(
        self, name: str, seconds: int | None, meta: RequestMeta, now: datetime
    ) -> BucketInfo:
        return self._changing_bucket(name, lambda b: b.set_upload_expiry(seconds, meta, now))

    def configure_inventory(
        self, name: str, inventory: InventoryConfig | None, meta: RequestMeta, now: datetime
    ) -> BucketInfo:
        return self._changing_bucket(name, lambda b: b.configure_inventory(inventory, meta, now))

    def configure_replication(
        self, name: str, rules: list[ReplicationRule] | None, meta: RequestMeta, now: datetime
    ) -> BucketInfo:
        """Replication rules for a bucket (None: none); each names a registered site."""
        for site_name in sorted({rule["site"] for rule in rules or ()}):
            try:
                site: Site = self.repository.get(Site.create_id(site_name))
            except AggregateNotFoundError:
                site = None  # type: ignore[assignment]
            if site is None or not site.is_live:
                raise InvalidArgument(
                    f"No site named {site_name!r} is registered: an administrator registers "
                    f"it with PUT /admin/sites/{site_name} first", site=site_name)
        return self._changing_bucket(name, lambda b: b.configure_replication(rules, meta, now))

    def set_bucket_tags(self, name: str, tags: dict[str, str], meta: RequestMeta,
                        now: datetime) -> BucketInfo:
        return self._changing_bucket(name, lambda b: b.set_tags(tags, meta, now))

    def configure_lifecycle(self, name: str, rules: list[LifecycleRule] | None,
                            meta: RequestMeta, now: datetime) -> BucketInfo:
        return self._changing_bucket(name, lambda b: b.configure_lifecycle(rules, meta, now))

    def configure_object_lock(self, name: str, lock: LockConfig, meta: RequestMeta,
                              now: datetime) -> BucketInfo:
        return self._changing_bucket(name, lambda b: b.configure_object_lock(lock, meta, now))

    def set_bucket_policy(self, name: str, policy: str | None, meta: RequestMeta,
                          now: datetime) -> BucketInfo:
        return self._changing_bucket(
            name, lambda b: b.set_policy(policy, meta, now, self.public_access_default))

    def set_public_access_block(self, name: str, block: PublicAccessBlock | None,
                                meta: RequestMeta, now: datetime) -> BucketInfo:
        return self._changing_bucket(
            name, lambda b: b.set_public_access_block(block, meta, now))

    def configure_cors(self, name: str, rules: list[CorsRule] | None, meta: RequestMeta,
                       now: datetime) -> BucketInfo:
        return self._changing_bucket(name, lambda b: b.configure_cors(rules, meta, now))

    def configure_encryption(self, name: str, encryption: DefaultEncryption | None,
                             meta: RequestMeta, now: datetime) -> BucketInfo:
        return self._changing_bucket(
            name, lambda b: b.configure_encryption(encryption, meta, now))
