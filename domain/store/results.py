"""What the ObjectStore's commands and queries return: frozen records, never aggregates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from domain.buckets import Bucket
from domain.cors import CorsRule
from domain.lifecycle import LifecycleRule
from domain.lock import LockConfig
from domain.public_access import NONE_BLOCKED, PublicAccessBlock, combined
from domain.records import Acl, DefaultEncryption, InventoryConfig, ReplicationRule, Version
from domain.users import User


@dataclass(frozen=True)
class BucketInfo:
    name: str
    owner: str
    acl: Acl
    versioning: str
    region: str
    created_at: datetime
    retention_seconds: int = 0
    inventory: InventoryConfig | None = None
    upload_expiry_seconds: int | None = None  # None: the store's default
    replication: list[ReplicationRule] | None = None
    tags: dict[str, str] = field(default_factory=dict)
    policy: str | None = None  # the bucket policy document
    cors: list[CorsRule] | None = None
    encryption: DefaultEncryption | None = None  # the bucket's default encryption
    public_access_block: PublicAccessBlock | None = None  # the bucket's own switches
    # in force: the bucket's and the store's switches
    blocked: PublicAccessBlock = field(default_factory=lambda: dict(NONE_BLOCKED))  # type: ignore[assignment]
    lifecycle: list[LifecycleRule] | None = None
    object_lock: LockConfig | None = None  # None: the bucket has no object lock


@dataclass(frozen=True)
class ObjectInfo:
    """One version of one key, as a read or a write returns it."""

    bucket: str
    key: str
    version: Version
    position: int  # the store position of the write that made it; 0 for reads


@dataclass(frozen=True)
class DeleteResult:
    bucket: str
    key: str
    version_id: str | None  # the version removed, or the delete marker placed
    delete_marker: bool
    position: int


@dataclass(frozen=True)
class UserInfo:
    name: str
    display_name: str
    is_admin: bool
    access_keys: tuple[str, ...]


@dataclass(frozen=True)
class Credentials:
    access_key: str
    user: str
    secret_ciphertext: str
    is_admin: bool
    valid_since: datetime  # tokens issued before this are refused (rotation, deactivation)


def bucket_info(bucket: Bucket, store_block: PublicAccessBlock = NONE_BLOCKED) -> BucketInfo:
    own = getattr(bucket, "public_access_block", None)
    return BucketInfo(
        name=bucket.name,
        owner=bucket.owner,
        acl=bucket.acl,
        versioning=bucket.versioning,
        region=bucket.region,
        created_at=bucket.generation_created_at,
        retention_seconds=bucket.retention_seconds,
        inventory=bucket.inventory,
        upload_expiry_seconds=bucket.upload_expiry_seconds,
        replication=bucket.replication,
        # getattr: snapshots taken before these settings existed lack them
        tags=getattr(bucket, "tags", {}),
        policy=getattr(bucket, "policy", None),
        cors=getattr(bucket, "cors", None),
        encryption=getattr(bucket, "encryption", None),
        public_access_block=own,
        blocked=combined(own, store_block),
        lifecycle=getattr(bucket, "lifecycle", None),
        object_lock=getattr(bucket, "object_lock", None),
    )


def user_info(user: User) -> UserInfo:
    return UserInfo(user.name, user.display_name, user.is_admin, tuple(user.access_keys))
