"""Domain errors: each carries the fields that explain it, never a protocol status."""

from __future__ import annotations


class StrataError(Exception):
    """Base of every error the domain raises on purpose."""

    def __init__(self, message: str, **fields: object) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields


class InvalidBucketName(StrataError):
    pass


class InvalidObjectKey(StrataError):
    pass


class KeyTooLong(InvalidObjectKey):
    pass


class InvalidArgument(StrataError):
    pass


class MetadataTooLarge(StrataError):
    pass


class NoSuchBucket(StrataError):
    pass


class BucketAlreadyExists(StrataError):
    pass


class BucketAlreadyOwnedByYou(StrataError):
    pass


class BucketNotEmpty(StrataError):
    pass


class NoSuchKey(StrataError):
    """The key has no current version; `delete_marker` tells whether a marker hides it."""

    def __init__(self, message: str, *, delete_marker: bool = False, **fields: object) -> None:
        super().__init__(message, **fields)
        self.delete_marker = delete_marker


class NoSuchVersion(StrataError):
    pass


class MethodNotAllowed(StrataError):
    """The operation does not apply to this target, e.g. reading a delete marker."""


class NoSuchUser(StrataError):
    pass


class UserAlreadyExists(StrataError):
    pass


class AccessKeyAlreadyExists(StrataError):
    pass


class InvalidAccessKeyId(StrataError):
    pass


class AccessDenied(StrataError):
    pass


class ConflictingWrites(StrataError):
    """Optimistic concurrency kept failing; the client may retry."""


class ChunkUnavailable(StrataError):
    """A chunk is missing, or its bytes no longer match its hash."""


class ChunkNotStored(ChunkUnavailable):
    """The chunk is not there at all (as opposed to there with the wrong bytes)."""


class NoSuchNode(StrataError):
    pass


class NoSuchSite(StrataError):
    pass


class ReplicationNeedsVersioning(StrataError):
    """Replication rules need versioning enabled on the bucket (as in S3)."""


class InvalidBucketState(StrataError):
    """The bucket's configuration forbids this change (suspending versioning while
    replication rules need it)."""


class NoSuchReplicationConfiguration(StrataError):
    pass


class InsufficientReplicas(StrataError):
    """Fewer blob nodes than the write quorum took the data: nothing was recorded."""


class DataGone(StrataError):
    """A past version's bytes were collected after its bucket's retention ran out."""


class ChunkRefused(StrataError):
    """A chunk sent on its own (geo-replication) is larger than a chunk may be, or its
    bytes do not match its name."""


class IncompleteBody(StrataError):
    """The request body ended before its declared length."""


class NoSuchUpload(StrataError):
    pass


class InvalidPart(StrataError):
    pass


class InvalidPartOrder(StrataError):
    pass


class EntityTooSmall(StrataError):
    pass


class PreconditionFailed(StrataError):
    pass


class SiteUnreachable(StrataError):
    """A remote site did not answer, or answered with a server error: try again later."""


class SiteMisnamed(StrataError):
    """A registered site calls itself by another name than it was registered under, so a
    change that came from it could be sent back (active-active loops)."""


class InvalidTag(StrataError):
    """A tag's key or value breaks S3's rules (length, characters, aws: prefix)."""


class TooManyTags(StrataError):
    """More tags than an object (10) or a bucket (50) may have."""


class ObjectLocked(StrataError):
    """Object lock (retention or a legal hold) forbids removing or shortening this."""


class InvalidRetention(StrataError):
    """A retention setting object lock does not allow (its mode, its date, its change)."""


class ObjectLockNotEnabled(StrataError):
    """Object lock settings on a bucket created without object lock."""


class MalformedLifecycle(StrataError):
    """A lifecycle configuration S3 would refuse, with the reason."""


class MalformedPolicy(StrataError):
    """A bucket policy S3 would refuse, with the reason."""


class IdentityTokenRefused(StrataError):
    """An identity token (OpenID Connect) or a session token strata does not accept: the
    message says why."""


class TokenExpired(IdentityTokenRefused):
    """The token's time is up: sign in again."""


class IssuerUnreachable(StrataError):
    """The OpenID Connect issuer did not answer; try again later."""


class KeyUnavailable(StrataError):
    """An encryption key strata needs is missing or does not fit: never wrong bytes."""


class CustomerKeyRequired(StrataError):
    """An SSE-C object read without its key, with another key, or SSE-C over plain
    HTTP: the message says which."""


class NotAvailable(StrataError):
    """A feature this deployment's shape cannot serve yet (`feature` says which)."""
