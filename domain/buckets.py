"""The Bucket aggregate: a name's lifecycle, owner, versioning state and ACL."""

from __future__ import annotations

import functools
from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.cors import CorsRule, check_cors_rules
from domain.errors import (
    BucketAlreadyExists,
    BucketAlreadyOwnedByYou,
    InvalidArgument,
    InvalidBucketState,
    NoSuchBucket,
    ReplicationNeedsVersioning,
)
from domain.lifecycle import LifecycleRule, check_rules
from domain.lock import LockConfig, check_lock_config
from domain.names import validate_bucket_name
from domain.policy import parse_policy
from domain.public_access import (
    NONE_BLOCKED,
    PublicAccessBlock,
    check_acl_allowed,
    check_policy_allowed,
    combined,
)
from domain.records import (
    Acl,
    DefaultEncryption,
    InventoryConfig,
    ReplicationRule,
    RequestMeta,
)
from domain.sites import check_site_name
from domain.tags import MAX_BUCKET_TAGS, check_tags

UNVERSIONED = "Unversioned"
ENABLED = "Enabled"
SUSPENDED = "Suspended"
MAX_RETENTION_SECONDS = 100 * 365 * 24 * 3600
MAX_REPLICATION_RULES = 1000  # S3's limit
MAX_RULE_ID = 255
MAX_RULE_PREFIX = 1024


def check_replication_rules(rules: list[ReplicationRule]) -> None:
    """S3's limits: 1 to 1,000 rules, ids unique (at most 255 characters), priorities
    unique, prefixes of at most 1,024 characters, destinations a site and a bucket name."""
    if not 1 <= len(rules) <= MAX_REPLICATION_RULES:
        raise InvalidArgument(f"A replication configuration has 1 to {MAX_REPLICATION_RULES} "
                              "rules", rules=len(rules))
    ids, priorities = set(), set()
    for rule in rules:
        if not 1 <= len(rule["id"]) <= MAX_RULE_ID or not rule["id"].isprintable():
            raise InvalidArgument(f"A rule's id is 1 to {MAX_RULE_ID} printable characters")
        if rule["id"] in ids:
            raise InvalidArgument("Rule ids must be unique", rule=rule["id"])
        if rule["priority"] in priorities:
            raise InvalidArgument("Rule priorities must be unique", rule=rule["id"])
        ids.add(rule["id"])
        priorities.add(rule["priority"])
        if len(rule["prefix"]) > MAX_RULE_PREFIX:
            raise InvalidArgument(f"A rule's prefix is at most {MAX_RULE_PREFIX} characters",
                                  rule=rule["id"])
        check_site_name(rule["site"])
        validate_bucket_name(rule["bucket"])


class Bucket(Aggregate):
    """One bucket name. Deleting it and creating it again starts a new generation."""

    class Created(Aggregate.Created):
        name: str
        owner: str
        acl: Acl
        region: str
        meta: RequestMeta

    class Recreated(Aggregate.Event):
        name: str
        owner: str
        acl: Acl
        region: str
        meta: RequestMeta

    class Deleted(Aggregate.Event):
        name: str
        meta: RequestMeta

    class VersioningChanged(Aggregate.Event):
        name: str
        status: str
        meta: RequestMeta

    class AclChanged(Aggregate.Event):
        name: str
        acl: Acl
        meta: RequestMeta

    class RetentionChanged(Aggregate.Event):
        name: str
        seconds: int
        meta: RequestMeta

    class InventoryConfigured(Aggregate.Event):
        name: str
        inventory: InventoryConfig | None
        meta: RequestMeta

    class UploadExpiryChanged(Aggregate.Event):
        name: str
        seconds: int | None
        meta: RequestMeta

    class ReplicationConfigured(Aggregate.Event):
        name: str
        rules: list[ReplicationRule] | None
        meta: RequestMeta

    class TagsChanged(Aggregate.Event):
        name: str
        tags: dict[str, str]
        meta: RequestMeta

    class PublicAccessBlockChanged(Aggregate.Event):
        name: str
        block: PublicAccessBlock | None
        meta: RequestMeta

    class EncryptionConfigured(Aggregate.Event):
        name: str
        encryption: DefaultEncryption | None
        meta: RequestMeta

    class CorsConfigured(Aggregate.Event):
        name: str
        rules: list[CorsRule] | None
        meta: RequestMeta

    class PolicyChanged(Aggregate.Event):
        """The bucket policy document as its owner sent it (None: no policy)."""

        name: str
        policy: str | None
        meta: RequestMeta

    class LifecycleConfigured(Aggregate.Event):
        name: str
        rules: list[LifecycleRule] | None
        meta: RequestMeta

    class ObjectLockConfigured(Aggregate.Event):
        """Object lock turned on (for good), or its default retention changed."""

        name: str
        lock: LockConfig
        meta: RequestMeta

    @staticmethod
    @functools.lru_cache(maxsize=8192)  # ids are hashed on every request that names one
    def create_id(name: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"/buckets/{name}")

    @classmethod
    def create(
        cls, name: str, owner: str, acl: Acl, region: str, meta: RequestMeta, timestamp: datetime
    ) -> Bucket:
        validate_bucket_name(name)
        return cls(name=name, owner=owner, acl=acl, region=region, meta=meta, timestamp=timestamp)

    @event(Created)
    def __init__(
        self, name: str, owner: str, acl: Acl, region: str, meta: RequestMeta, timestamp: datetime
    ) -> None:
        self.name = name
        self._begin_generation(owner, acl, region, timestamp)
        self.generation = 1

    def _begin_generation(self, owner: str, acl: Acl, region: str, timestamp: datetime) -> None:
        self.owner = owner
        self.acl = acl
        self.region = region
        self.versioning = UNVERSIONED
        self.retention_seconds = 0
        self.inventory: InventoryConfig | None = None
        self.upload_expiry_seconds: int | None = None  # None: the store's default
        self.replication: list[ReplicationRule] | None = None
        self.tags: dict[str, str] = {}
        self.policy: str | None = None
        self.cors: list[CorsRule] | None = None
        self.encryption: DefaultEncryption | None = None
        self.public_access_block: PublicAccessBlock | None = None
        self.lifecycle: list[LifecycleRule] | None = None
        self.object_lock: LockConfig | None = None
        self.is_live = True
        self.generation_created_at = timestamp

    def ensure_live(self) -> None:
        if not self.is_live:
            raise NoSuchBucket("The specified bucket does not exist", bucket=self.name)

    def recreate(
        self, owner: str, acl: Acl, region: str, meta: RequestMeta, timestamp: datetime
    ) -> None:
        if self.is_live:
            if owner == self.owner:
                raise BucketAlreadyOwnedByYou(
                    "Your previous request to create the named bucket succeeded and you "
                    "already own it.",
                    bucket=self.name,
                )
            raise BucketAlreadyExists(
                "The requested bucket name is not available. Please select a different name "
                "and try again.",
                bucket=self.name,
            )
        self._recreated(
            name=self.name, owner=owner, acl=acl, region=region, meta=meta, timestamp=timestamp
        )

    @event(Recreated)
    def _recreated(
        self, name: str, owner: str, acl: Acl, region: str, meta: RequestMeta, timestamp: datetime
    ) -> None:
        self._begin_generation(owner, acl, region, timestamp)
        self.generation += 1

    def delete(self, meta: RequestMeta, timestamp: datetime) -> None:
        """Emptiness is checked by the application, which holds the bucket's write gate."""
        self.ensure_live()
        self._deleted(name=self.name, meta=meta, timestamp=timestamp)

    @event(Deleted)
    def _deleted(self, name: str, meta: RequestMeta, timestamp: datetime) -> None:
        self.is_live = False

    def set_versioning(self, status: str, meta: RequestMeta, timestamp: datetime) -> None:
        self.ensure_live()
        if status not in (ENABLED, SUSPENDED):
            raise InvalidArgument(
                f"Versioning status must be {ENABLED} or {SUSPENDED}, not {status!r}",
                status=status,
            )
        if status == SUSPENDED and getattr(self, "object_lock", None) is not None:
            raise InvalidBucketState(
                "Versioning cannot be suspended on a bucket with object lock enabled",
                bucket=self.name)
        if status == SUSPENDED and self.replication:
            raise InvalidBucketState(
                "Versioning cannot be suspended while the bucket has replication rules: "
                "delete its replication configuration first", bucket=self.name)
        if status != self.versioning:
            self._versioning_changed(name=self.name, status=status, meta=meta, timestamp=timestamp)

    @event(VersioningChanged)
    def _versioning_changed(
        self, name: str, status: str, meta: RequestMeta, timestamp: datetime
    ) -> None:
        self.versioning = status

    def set_acl(self, acl: Acl, meta: RequestMeta, timestamp: datetime,
                store_block: PublicAccessBlock = NONE_BLOCKED) -> None:
        self.ensure_live()
        check_acl_allowed(acl, combined(self.public_access_block, store_block))
        if acl["owner"] != self.owner:
            raise InvalidArgument("An ACL may not change the bucket's owner", owner=acl["owner"])
        self._acl_changed(name=self.name, acl=acl, meta=meta, timestamp=timestamp)

    @event(AclChanged)
    def _acl_changed(self, name: str, acl: Acl, meta: RequestMeta, timestamp: datetime) -> None:
        self.acl = acl

    def set_retention(self, seconds: int, meta: RequestMeta, timestamp: datetime) -> None:
        """How long superseded data stays readable by point-in-time reads, at least."""
        self.ensure_live()
        if not 0 <= seconds <= MAX_RETENTION_SECONDS:
            raise InvalidArgument(
                f"Retention must be between 0 and {MAX_RETENTION_SECONDS} seconds",
                seconds=seconds,
            )
        if seconds != self.retention_seconds:
            self._retention_changed(name=self.name, seconds=seconds, meta=meta, timestamp=timestamp)

    @event(RetentionChanged)
    def _retention_changed(
        self, name: str, seconds: int, meta: RequestMeta, timestamp: datetime
    ) -> None:
        self.retention_seconds = seconds

    def configure_inventory(
        self, inventory: InventoryConfig | None, meta: RequestMeta, timestamp: datetime
    ) -> None:
        """A daily Parquet inventory of this bucket into `destination` (None: no more)."""
        self.ensure_live()
        if inventory is not None:
            validate_bucket_name(inventory["destination"])
        self._inventory_configured(
            name=self.name, inventory=inventory, meta=meta, timestamp=timestamp
        )

    @event(InventoryConfigured)
    def _inventory_configured(
        self, name: str, inventory: InventoryConfig | None, meta: RequestMeta, timestamp: datetime
    ) -> None:
        self.inventory = inventory

    def set_upload_expiry(
        self, seconds: int | None, meta: RequestMeta, timestamp: datetime
    ) -> None:
        """How long a multipart upload may stay incomplete before it is aborted (0:
        never; None: the store's default)."""
        self.ensure_live()
        if seconds is not None and not 0 <= seconds <= MAX_RETENTION_SECONDS:
            raise InvalidArgument(
                f"An upload expiry is between 0 and {MAX_RETENTION_SECONDS} seconds",
                seconds=seconds,
            )
        if seconds != self.upload_expiry_seconds:
            self._upload_expiry_changed(
                name=self.name, seconds=seconds, meta=meta, timestamp=timestamp
            )

    @event(UploadExpiryChanged)
    def _upload_expiry_changed(
        self, name: str, seconds: int | None, meta: RequestMeta, timestamp: datetime
    ) -> None:
        self.upload_expiry_seconds = seconds

    def configure_replication(
        self, rules: list[ReplicationRule] | None, meta: RequestMeta, timestamp: datetime
    ) -> None:
        """Send this bucket's changes to other sites by `rules` (None: no more). As in S3
        the bucket must have versioning enabled: replicas keep the version ids."""
        self.ensure_live()
        if rules is not None:
            if self.versioning != ENABLED:
                raise ReplicationNeedsVersioning(
                    "Versioning must be 'Enabled' on the bucket to apply a replication "
                    "configuration", bucket=self.name)
            check_replication_rules(rules)
        if rules != self.replication:
            self._replication_configured(name=self.name, rules=rules, meta=meta,
                                         timestamp=timestamp)

    @event(ReplicationConfigured)
    def _replication_configured(
        self, name: str, rules: list[ReplicationRule] | None, meta: RequestMeta,
        timestamp: datetime,
    ) -> None:
        self.replication = rules

    def set_tags(self, tags: dict[str, str], meta: RequestMeta, timestamp: datetime) -> None:
        self.ensure_live()
        self._tags_changed(name=self.name, tags=check_tags(tags, MAX_BUCKET_TAGS), meta=meta,
                           timestamp=timestamp)

    @event(TagsChanged)
    def _tags_changed(self, name: str, tags: dict[str, str], meta: RequestMeta,
                      timestamp: datetime) -> None:
        self.tags = tags

    def configure_lifecycle(self, rules: list[LifecycleRule] | None, meta: RequestMeta,
                            timestamp: datetime) -> None:
        """The bucket's lifecycle rules (None: none)."""
        self.ensure_live()
        if rules is not None:
            check_rules(rules)
        self._lifecycle_configured(name=self.name, rules=rules, meta=meta, timestamp=timestamp)

    @event(LifecycleConfigured)
    def _lifecycle_configured(self, name: str, rules: list[LifecycleRule] | None,
                              meta: RequestMeta, timestamp: datetime) -> None:
        self.lifecycle = rules

    def configure_object_lock(self, lock: LockConfig, meta: RequestMeta,
                              timestamp: datetime) -> None:
        """Turn object lock on (it stays on, and versioning with it) or change its default
        retention. A bucket that has no lock yet needs versioning enabled, as in S3."""
        self.ensure_live()
        check_lock_config(lock)
        if self.object_lock is None and self.versioning != ENABLED:
            raise InvalidBucketState(
                "Versioning must be 'Enabled' on the bucket to apply an Object Lock "
                "configuration", bucket=self.name)
        self._object_lock_configured(name=self.name, lock=lock, meta=meta,
                                     timestamp=timestamp)

    @event(ObjectLockConfigured)
    def _object_lock_configured(self, name: str, lock: LockConfig, meta: RequestMeta,
                                timestamp: datetime) -> None:
        self.object_lock = lock

    def set_policy(self, policy: str | None, meta: RequestMeta, timestamp: datetime,
                   store_block: PublicAccessBlock = NONE_BLOCKED) -> None:
        """A bucket policy (AWS's JSON policy language), checked before it is kept; a
        public one is refused where BlockPublicPolicy is on."""
        self.ensure_live()
        if policy is not None:
            parsed = parse_policy(policy, self.name)
            check_policy_allowed(parsed.is_public,
                                 combined(self.public_access_block, store_block))
        self._policy_changed(name=self.name, policy=policy, meta=meta, timestamp=timestamp)

    @event(PolicyChanged)
    def _policy_changed(self, name: str, policy: str | None, meta: RequestMeta,
                        timestamp: datetime) -> None:
        self.policy = policy

    def set_public_access_block(self, block: PublicAccessBlock | None, meta: RequestMeta,
                                timestamp: datetime) -> None:
        self.ensure_live()
        self._public_access_block_changed(name=self.name, block=block, meta=meta,
                                          timestamp=timestamp)

    @event(PublicAccessBlockChanged)
    def _public_access_block_changed(self, name: str, block: PublicAccessBlock | None,
                                     meta: RequestMeta, timestamp: datetime) -> None:
        self.public_access_block = block

    def configure_cors(self, rules: list[CorsRule] | None, meta: RequestMeta,
                       timestamp: datetime) -> None:
        self.ensure_live()
        if rules is not None:
            check_cors_rules(rules)
        self._cors_configured(name=self.name, rules=rules, meta=meta, timestamp=timestamp)

    @event(CorsConfigured)
    def _cors_configured(self, name: str, rules: list[CorsRule] | None, meta: RequestMeta,
                         timestamp: datetime) -> None:
        self.cors = rules

    def configure_encryption(self, encryption: DefaultEncryption | None, meta: RequestMeta,
                             timestamp: datetime) -> None:
        """The encryption new objects get when they ask for none (None: none)."""
        self.ensure_live()
        if encryption is not None and encryption["mode"] not in ("AES256", "aws:kms"):
            raise InvalidArgument("The default encryption is AES256 or aws:kms",
                                  mode=encryption["mode"][:32])
        self._encryption_configured(name=self.name, encryption=encryption, meta=meta,
                                    timestamp=timestamp)

    @event(EncryptionConfigured)
    def _encryption_configured(self, name: str, encryption: DefaultEncryption | None,
                               meta: RequestMeta, timestamp: datetime) -> None:
        self.encryption = encryption
