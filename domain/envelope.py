"""The event envelope downstream consumers read (ARCHITECTURE, "Event contract").

One function turns a stored domain event and its position in the log into a stable,
JSON-native record. The HTTP event stream, the audit trail, the per-object history and
(in a cluster) the Kafka topic all carry this record, so there is one contract.
Changes are additive and bump SCHEMA.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.buckets import Bucket
from domain.collection import CollectionRefusal, GarbageSweep
from domain.nodes import BlobNode
from domain.objects import ObjectKey
from domain.replicas import ReplicaSurvey
from domain.sites import Site
from domain.uploads import MultipartUpload
from domain.users import AccessKey, User

SCHEMA = 1

# S3's event-notification names where S3 has one; strata's own otherwise.
NAMES: dict[type, str] = {
    ObjectKey.VersionPut: "s3:ObjectCreated:Put",
    ObjectKey.DeleteMarkerPlaced: "s3:ObjectRemoved:DeleteMarkerCreated",
    ObjectKey.VersionDeleted: "s3:ObjectRemoved:Delete",
    ObjectKey.AclChanged: "s3:ObjectAcl:Put",
    ObjectKey.TagsChanged: "s3:ObjectTagging:Put",
    ObjectKey.RetentionChanged: "strata:ObjectRetentionChanged",
    ObjectKey.LegalHoldChanged: "strata:ObjectLegalHoldChanged",
    ObjectKey.DataKeyRewrapped: "strata:ObjectDataKeyRewrapped",
    ObjectKey.VersionKept: "s3:ObjectCreated:Put",
    ObjectKey.MarkerKept: "s3:ObjectRemoved:DeleteMarkerCreated",
    ObjectKey.Created: "strata:ObjectKeyCreated",
    Bucket.Created: "strata:BucketCreated",
    Bucket.Recreated: "strata:BucketCreated",
    Bucket.Deleted: "strata:BucketRemoved",
    Bucket.VersioningChanged: "strata:BucketVersioningChanged",
    Bucket.AclChanged: "strata:BucketAclChanged",
    Bucket.RetentionChanged: "strata:BucketRetentionChanged",
    Bucket.InventoryConfigured: "strata:BucketInventoryConfigured",
    Bucket.UploadExpiryChanged: "strata:BucketUploadExpiryChanged",
    Bucket.ReplicationConfigured: "strata:BucketReplicationConfigured",
    Bucket.TagsChanged: "strata:BucketTagsChanged",
    Bucket.PolicyChanged: "strata:BucketPolicyChanged",
    Bucket.CorsConfigured: "strata:BucketCorsConfigured",
    Bucket.EncryptionConfigured: "strata:BucketEncryptionConfigured",
    Bucket.PublicAccessBlockChanged: "strata:BucketPublicAccessBlockChanged",
    Bucket.LifecycleConfigured: "strata:BucketLifecycleConfigured",
    Bucket.ObjectLockConfigured: "strata:BucketObjectLockConfigured",
    MultipartUpload.Initiated: "strata:MultipartUploadCreated",
    MultipartUpload.PartUploaded: "strata:MultipartPartUploaded",
    MultipartUpload.Completed: "strata:MultipartUploadCompleted",
    MultipartUpload.Aborted: "strata:MultipartUploadAborted",
    User.Created: "strata:UserCreated",
    User.AccessKeyAdded: "strata:AccessKeyAdded",
    AccessKey.Created: "strata:AccessKeyCreated",
    AccessKey.SecretRotated: "strata:AccessKeySecretRotated",
    AccessKey.Deactivated: "strata:AccessKeyDeactivated",
    AccessKey.Activated: "strata:AccessKeyActivated",
    AccessKey.Deleted: "strata:AccessKeyDeleted",
    User.Deleted: "strata:UserDeleted",
    GarbageSweep.Collected: "strata:ChunksCollected",
    CollectionRefusal.Refused: "strata:ChunkCollectionRefused",
    ReplicaSurvey.Recorded: "strata:ReplicasSurveyed",
    BlobNode.Registered: "strata:NodeRegistered",
    BlobNode.Reinstated: "strata:NodeRegistered",
    BlobNode.Drained: "strata:NodeDrained",
    BlobNode.Removed: "strata:NodeRemoved",
    Site.Registered: "strata:SiteRegistered",
    Site.Changed: "strata:SiteRegistered",
    Site.Removed: "strata:SiteRemoved",
}
COMPLETED_MULTIPART = "s3:ObjectCreated:CompleteMultipartUpload"

# Envelope fields lifted out of the event, and fields never published (secrets).
_LIFTED = frozenset(
    ("originator_id", "originator_version", "originator_topic", "timestamp", "meta",
     "bucket", "key")
)
_SECRET = frozenset({"secret_ciphertext"})


def event_type(event: Any) -> str:
    """`ObjectKey.VersionPut` and the like: aggregate and event class."""
    return type(event).__qualname__


def event_name(event: Any) -> str:
    if isinstance(event, ObjectKey.VersionPut) and "parts" in event.version:
        return COMPLETED_MULTIPART
    if isinstance(event, ObjectKey.TagsChanged) and not event.tags:
        return "s3:ObjectTagging:Delete"
    if (isinstance(event, ObjectKey.VersionDeleted | ObjectKey.DeleteMarkerPlaced)
            and event.meta.get("reason", "").startswith("lifecycle")):
        return ("s3:LifecycleExpiration:DeleteMarkerCreated"
                if isinstance(event, ObjectKey.DeleteMarkerPlaced)
                else "s3:LifecycleExpiration:Delete")
    return NAMES.get(type(event), f"strata:{type(event).__name__}")


def event_bucket(event: Any) -> str | None:
    bucket = getattr(event, "name" if isinstance(event, Bucket.Event) else "bucket", None)
    return bucket if isinstance(bucket, str) else None


def event_version_id(event: Any) -> str | None:
    if isinstance(event, ObjectKey.VersionPut):
        return str(event.version["version_id"])
    if isinstance(event, ObjectKey.DeleteMarkerPlaced):
        return str(event.marker["version_id"])
    if isinstance(event, ObjectKey.VersionDeleted | ObjectKey.AclChanged
                  | ObjectKey.TagsChanged | ObjectKey.RetentionChanged
                  | ObjectKey.LegalHoldChanged | ObjectKey.DataKeyRewrapped):
        return str(event.version_id)
    if isinstance(event, MultipartUpload.Completed):
        return str(event.version_id)
    return None


def envelope(event: Any, position: int) -> dict[str, Any]:
    """The published record of `event`, stored at `position` in the log."""
    meta = getattr(event, "meta", None) or {}
    data = {
        name: value
        for name, value in vars(event).items()
        if name not in _LIFTED and name not in _SECRET
    }
    return {
        "schema": SCHEMA,
        "position": position,
        "event_id": f"{event.originator_id}:{event.originator_version}",
        "aggregate_id": str(event.originator_id),
        "aggregate_version": event.originator_version,
        "type": event_type(event),
        "name": event_name(event),
        "time": event.timestamp.isoformat(),
        "bucket": event_bucket(event),
        "key": getattr(event, "key", None),
        "version_id": event_version_id(event),
        "actor": meta.get("actor", ""),
        "user": meta.get("user", ""),
        "request_id": meta.get("request_id", ""),
        "source": meta.get("source", ""),
        "user_agent": meta.get("user_agent", ""),
        "origin": {"site": meta["origin_site"], "position": meta.get("origin_position", 0)}
        if "origin_site" in meta else None,
        "reason": meta.get("reason"),
        "data": data,
    }


# What a listing shows of a version; the rest of a record needs READ on the object.
_LISTED_VERSION_FIELDS = ("size", "etag", "created_at", "owner", "is_delete_marker")
_LISTED_RECORD_FIELDS = (
    "schema", "position", "event_id", "aggregate_id", "aggregate_version", "type", "name",
    "time", "bucket", "key", "version_id",
)


def listing_view(record: dict[str, Any]) -> dict[str, Any]:
    """`record` cut to what an S3 listing would show its reader: which key changed,
    when, and the version's size, ETag and owner; no metadata, chunks, ACLs, nor who
    made the change or from where."""
    data = record["data"]
    version = data.get("version") or data.get("marker")
    shown = {name: version[name] for name in _LISTED_VERSION_FIELDS if name in version} \
        if isinstance(version, dict) else {}
    return {
        **{name: record[name] for name in _LISTED_RECORD_FIELDS},
        "actor": "", "user": "", "request_id": "", "source": "", "user_agent": "",
        "origin": None, "reason": None,
        "data": {"version": shown} if shown else {},
    }


@dataclass(frozen=True)
class EventFilter:
    """Which published records a reader wants; every field given must match."""

    bucket: str | None = None
    prefix: str = ""  # of the key
    types: tuple[str, ...] = ()  # a type, a name, or a name prefix ending in "*"
    actor: str | None = None  # an access key or a user name
    since: datetime | None = None
    until: datetime | None = None

    def matches(self, record: dict[str, Any]) -> bool:
        if self.bucket is not None and record["bucket"] != self.bucket:
            return False
        if self.prefix and not (record["key"] or "").startswith(self.prefix):
            return False
        if self.types and not any(_type_matches(t, record) for t in self.types):
            return False
        if self.actor is not None and self.actor not in (record["actor"], record["user"]):
            return False
        if self.since is not None or self.until is not None:
            moment = datetime.fromisoformat(record["time"])
            if self.since is not None and moment < self.since:
                return False
            if self.until is not None and moment >= self.until:
                return False
        return True


def _type_matches(wanted: str, record: dict[str, Any]) -> bool:
    if wanted.endswith("*"):
        return str(record["name"]).startswith(wanted[:-1])
    return wanted in (record["type"], record["name"])
