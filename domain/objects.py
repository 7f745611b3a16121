"""The ObjectKey aggregate: every version and delete marker of one key in one bucket."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.buckets import ENABLED, UNVERSIONED
from domain.errors import (
    InvalidArgument,
    MethodNotAllowed,
    NoSuchKey,
    NoSuchVersion,
    ObjectLocked,
    PreconditionFailed,
)
from domain.lock import check_removable, check_retention_change
from domain.names import validate_object_key
from domain.records import (
    NULL_VERSION,
    Acl,
    RequestMeta,
    Retention,
    Version,
    WrappedKey,
    check_representation,
    check_user_metadata,
)

if TYPE_CHECKING:
    from domain.geo import ReplicatedChange


def version_rank(version: Version) -> tuple[datetime, str]:
    """Which of two versions of a key written on two sites is the later: the later
    last-modified time, then the greater version id (ids are unique and the same on
    every site, so every site ranks the same way)."""
    return datetime.fromisoformat(version["created_at"]), version["version_id"]


class ObjectKey(Aggregate):
    """All versions of one key, oldest first. The last one is the current version."""

    class Created(Aggregate.Created):
        bucket: str
        key: str

    class VersionPut(Aggregate.Event):
        bucket: str
        key: str
        version: Version
        replaced: list[str]
        meta: RequestMeta

    class VersionDeleted(Aggregate.Event):
        bucket: str
        key: str
        version_id: str
        meta: RequestMeta

    class DeleteMarkerPlaced(Aggregate.Event):
        bucket: str
        key: str
        marker: Version
        replaced: list[str]
        meta: RequestMeta

    class AclChanged(Aggregate.Event):
        bucket: str
        key: str
        version_id: str
        acl: Acl
        meta: RequestMeta

    class TagsChanged(Aggregate.Event):
        bucket: str
        key: str
        version_id: str
        tags: dict[str, str]
        meta: RequestMeta

    class RetentionChanged(Aggregate.Event):
        bucket: str
        key: str
        version_id: str
        retention: Retention | None
        meta: RequestMeta

    class LegalHoldChanged(Aggregate.Event):
        bucket: str
        key: str
        version_id: str
        on: bool
        meta: RequestMeta

    class DataKeyRewrapped(Aggregate.Event):
        """A version's data key wrapped again by the current version of its key-encryption
        key (after a rotation); its chunks are untouched."""

        bucket: str
        key: str
        version_id: str
        wrapped: WrappedKey
        meta: RequestMeta

    class VersionKept(VersionPut):
        """A version from another site older than a version here: kept beneath the
        versions newer than it (`below` is the oldest of those), not made current."""

        below: str

    class MarkerKept(DeleteMarkerPlaced):
        """A delete marker from another site, kept beneath newer versions likewise."""

        below: str

    @staticmethod
    @functools.lru_cache(maxsize=8192)  # ids are hashed on every request that names one
    def create_id(bucket: str, key: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"/buckets/{bucket}/objects/{key}")

    @classmethod
    def create(cls, bucket: str, key: str, timestamp: datetime) -> ObjectKey:
        validate_object_key(key)
        return cls(bucket=bucket, key=key, timestamp=timestamp)

    @event(Created)
    def __init__(self, bucket: str, key: str, timestamp: datetime) -> None:
        self.bucket = bucket
        self.key = key
        self.versions: list[Version] = []
        # per origin site, the newest log position of its changes applied here
        self.replicated: dict[str, int] = {}

    def __deepcopy__(self, memo: dict[int, Any]) -> ObjectKey:
        """The repository copies its cached aggregate for every command, so that a
        command that fails leaves the cache as saved. Nothing here changes a version in
        place (every change builds new dicts and lists), so a copy may share them and
        copy only its lists: a few µs against a deep copy's tens, on every PUT."""
        copied = object.__new__(type(self))
        copied.__dict__.update(
            {name: list(value) if isinstance(value, list) else value
             for name, value in self.__dict__.items()}
        )
        return copied

    # -- queries ------------------------------------------------------------------------

    @property
    def is_empty(self) -> bool:
        return not self.versions

    def current(self) -> Version:
        """The current version; NoSuchKey if there is none or it is a delete marker."""
        if not self.versions:
            raise NoSuchKey("The specified key does not exist.", bucket=self.bucket, key=self.key)
        latest = self.versions[-1]
        if latest["is_delete_marker"]:
            raise NoSuchKey(
                "The specified key does not exist.",
                delete_marker=True,
                bucket=self.bucket,
                key=self.key,
                version_id=latest["version_id"],
            )
        return latest

    def find_version(self, version_id: str) -> Version:
        for v in self.versions:
            if v["version_id"] == version_id:
                return v
        raise NoSuchVersion(
            "The specified version does not exist.",
            bucket=self.bucket,
            key=self.key,
            version_id=version_id,
        )

    def readable(self, version_id: str | None) -> Version:
        """The version a GET returns: a delete marker is never readable."""
        if version_id is None:
            return self.current()
        found = self.find_version(version_id)
        if found["is_delete_marker"]:
            raise MethodNotAllowed(
                "The specified method is not allowed against this resource.",
                bucket=self.bucket,
                key=self.key,
                version_id=version_id,
                delete_marker=True,
            )
        return found

    def check_write_condition(self, if_match: str | None, if_none_match: bool) -> None:
        """S3's conditional writes: If-None-Match: * and If-Match: <etag> on PUT."""
        if not if_none_match and if_match is None:
            return
        latest = self.versions[-1] if self.versions else None
        exists = latest is not None and not latest["is_delete_marker"]
        if if_none_match and exists:
            raise PreconditionFailed(
                "At least one of the pre-conditions you specified did not hold",
                bucket=self.bucket, key=self.key, condition="If-None-Match",
            )
        if if_match is not None:
            if not exists:
                raise NoSuchKey(
                    "The specified key does not exist.", bucket=self.bucket, key=self.key
                )
            assert latest is not None
            if if_match.strip().strip('"') not in ("*", latest["etag"]):
                raise PreconditionFailed(
                    "At least one of the pre-conditions you specified did not hold",
                    bucket=self.bucket, key=self.key, condition="If-Match",
                )

    def replicated_up_to(self, site: str) -> int:
        """The newest position of `site`'s log applied to this key (0: none)."""
        # getattr: a snapshot taken before geo-replication existed lacks the field
        return int(getattr(self, "replicated", {}).get(site, 0))

    def _null_version_ids(self) -> list[str]:
        return [v["version_id"] for v in self.versions if v["version_id"] == NULL_VERSION]

    # -- commands -----------------------------------------------------------------------

    def put_version(
        self, version: Version, versioning: str, meta: RequestMeta, timestamp: datetime
    ) -> None:
        """Add `version` as the current one. Unless versioning is enabled it is the
        `null` version and replaces any earlier `null` version (S3's semantics)."""
        check_user_metadata(version["user_metadata"])
        check_representation(version["content_type"], version["headers"])
        if version["is_delete_marker"]:
            raise InvalidArgument("Use place_delete_marker for delete markers")
        self._check_version_id(version["version_id"], versioning)
        replaced = [] if versioning == ENABLED else self._null_version_ids()
        self._check_replaceable(replaced, timestamp)
        self._version_put(
            bucket=self.bucket,
            key=self.key,
            version=version,
            replaced=replaced,
            meta=meta,
            timestamp=timestamp,
        )

    @event(VersionPut)
    def _version_put(
        self,
        bucket: str,
        key: str,
        version: Version,
        replaced: list[str],
        meta: RequestMeta,
        timestamp: datetime,
    ) -> None:
        self.versions = [v for v in self.versions if v["version_id"] not in replaced]
        self.versions.append(version)
        self._note_origin(meta)

    def delete(
        self,
        version_id: str | None,
        versioning: str,
        marker: Version,
        meta: RequestMeta,
        timestamp: datetime,
        bypass_governance: bool = False,
    ) -> Version | None:
        """Delete as S3 does. Returns the delete marker placed, if one was.

        With a version id, that version (or marker) is removed for good. Without one,
        an unversioned bucket drops its `null` version, while a versioned or suspended
        bucket gets a delete marker (the `null` one when suspended).
        """
        if version_id is not None:
            check_removable(self.find_version(version_id), timestamp, bypass_governance,
                            bucket=self.bucket, key=self.key)
            self._version_deleted(
                bucket=self.bucket,
                key=self.key,
                version_id=version_id,
                meta=meta,
                timestamp=timestamp,
            )
            return None
        if versioning == UNVERSIONED:
            if self._null_version_ids():
                self._check_replaceable(self._null_version_ids(), timestamp)
                self._version_deleted(
                    bucket=self.bucket,
                    key=self.key,
                    version_id=NULL_VERSION,
                    meta=meta,
                    timestamp=timestamp,
                )
            return None
        self._check_version_id(marker["version_id"], versioning)
        replaced = [] if versioning == ENABLED else self._null_version_ids()
        self._check_replaceable(replaced, timestamp)
        self._delete_marker_placed(
            bucket=self.bucket,
            key=self.key,
            marker=marker,
            replaced=replaced,
            meta=meta,
            timestamp=timestamp,
        )
        return marker

    @event(VersionDeleted)
    def _version_deleted(
        self, bucket: str, key: str, version_id: str, meta: RequestMeta, timestamp: datetime
    ) -> None:
        self.versions = [v for v in self.versions if v["version_id"] != version_id]
        self._note_origin(meta)

    @event(DeleteMarkerPlaced)
    def _delete_marker_placed(
        self,
        bucket: str,
        key: str,
        marker: Version,
        replaced: list[str],
        meta: RequestMeta,
        timestamp: datetime,
    ) -> None:
        self.versions = [v for v in self.versions if v["version_id"] not in replaced]
        self.versions.append(marker)
        self._note_origin(meta)

    def set_acl(
        self, version_id: str | None, acl: Acl, meta: RequestMeta, timestamp: datetime
    ) -> None:
        target = self.readable(version_id)
        self._acl_changed(
            bucket=self.bucket,
            key=self.key,
            version_id=target["version_id"],
            acl=acl,
            meta=meta,
            timestamp=timestamp,
        )

    @event(AclChanged)
    def _acl_changed(
        self,
        bucket: str,
        key: str,
        version_id: str,
        acl: Acl,
        meta: RequestMeta,
        timestamp: datetime,
    ) -> None:
        # Replace rather than mutate: the version dict is shared with its VersionPut event.
        self.versions = [
            {**v, "acl": acl} if v["version_id"] == version_id else v for v in self.versions
        ]
        self._note_origin(meta)

    def set_tags(self, version_id: str | None, tags: dict[str, str], meta: RequestMeta,
                 timestamp: datetime) -> str:
        """Replace the tag set of a version (the current one without an id); its id."""
        target = self.readable(version_id)
        self._tags_changed(bucket=self.bucket, key=self.key, version_id=target["version_id"],
                           tags=tags, meta=meta, timestamp=timestamp)
        return target["version_id"]

    @event(TagsChanged)
    def _tags_changed(self, bucket: str, key: str, version_id: str, tags: dict[str, str],
                      meta: RequestMeta, timestamp: datetime) -> None:
        self._change_version(version_id, tags=tags)
        self._note_origin(meta)

    def set_retention(self, version_id: str | None, retention: Retention | None,
                      bypass_governance: bool, meta: RequestMeta, timestamp: datetime) -> str:
        """Object lock retention of a version: extend it freely; shorten or remove it only
        as check_retention_change allows."""
        target = self.readable(version_id)
        check_retention_change(target, retention, timestamp, bypass_governance)
        self._retention_changed(bucket=self.bucket, key=self.key,
                                version_id=target["version_id"], retention=retention,
                                meta=meta, timestamp=timestamp)
        return target["version_id"]

    @event(RetentionChanged)
    def _retention_changed(self, bucket: str, key: str, version_id: str,
                           retention: Retention | None, meta: RequestMeta,
                           timestamp: datetime) -> None:
        self._change_version(version_id, retention=retention)
        self._note_origin(meta)

    def set_legal_hold(self, version_id: str | None, on: bool, meta: RequestMeta,
                       timestamp: datetime) -> str:
        target = self.readable(version_id)
        self._legal_hold_changed(bucket=self.bucket, key=self.key,
                                 version_id=target["version_id"], on=on, meta=meta,
                                 timestamp=timestamp)
        return target["version_id"]

    @event(LegalHoldChanged)
    def _legal_hold_changed(self, bucket: str, key: str, version_id: str, on: bool,
                            meta: RequestMeta, timestamp: datetime) -> None:
        self._change_version(version_id, legal_hold=on)
        self._note_origin(meta)

    def rewrap_data_key(self, version_id: str, wrapped: WrappedKey, meta: RequestMeta,
                        timestamp: datetime) -> bool:
        """Keep `wrapped` as the version's data key; False when the version is gone or
        is not encrypted with strata's keys (SSE-C keys are the customer's)."""
        found = next((v for v in self.versions if v["version_id"] == version_id), None)
        encryption = found.get("encryption") if found is not None else None
        if encryption is None or encryption["mode"] == "SSE-C" \
                or encryption["wrapped"]["key"] != wrapped["key"]:
            return False
        self._data_key_rewrapped(bucket=self.bucket, key=self.key, version_id=version_id,
                                 wrapped=wrapped, meta=meta, timestamp=timestamp)
        return True

    @event(DataKeyRewrapped)
    def _data_key_rewrapped(self, bucket: str, key: str, version_id: str, wrapped: WrappedKey,
                            meta: RequestMeta, timestamp: datetime) -> None:
        self.versions = [
            {**v, "encryption": {**v["encryption"], "wrapped": wrapped}}
            if v["version_id"] == version_id and "encryption" in v else v
            for v in self.versions]

    def _change_version(self, version_id: str, **fields: object) -> None:
        """Replace rather than mutate: a version dict is shared with the event that made
        it. A field set to None or an empty tag set is dropped."""
        def changed(v: Version) -> Version:
            updated: dict[str, object] = {**v, **fields}
            for name, value in fields.items():
                if value is None or value == {} or value is False:
                    updated.pop(name, None)
            return updated  # type: ignore[return-value]

        self.versions = [changed(v) if v["version_id"] == version_id else v
                         for v in self.versions]

    def _check_replaceable(self, version_ids: list[str], timestamp: datetime) -> None:
        for v in self.versions:
            if v["version_id"] in version_ids:
                check_removable(v, timestamp, False, bucket=self.bucket, key=self.key)

    def apply_replicated(self, change: ReplicatedChange, meta: RequestMeta,
                         timestamp: datetime) -> bool:
        """Record a change another site made, in a versioned bucket, as the same event
        it was there (`meta` names its origin). False when it changes nothing: it was
        applied before (its origin position is not past the newest applied from its
        site), or it removes or re-grants a version that is not here."""
        if change["origin_position"] <= self.replicated_up_to(change["origin_site"]):
            return False
        kind = change["kind"]
        if kind in ("put", "marker"):
            version = change["version"]
            # a version id is new on its site, except S3's "null" (replaced in place)
            replaced = [v["version_id"] for v in self.versions
                        if v["version_id"] == version["version_id"]]
            below = self._newer_than(version, replaced)
            if below is not None:  # two sites wrote the key: the later version stays on top
                if kind == "put":
                    self._version_kept(bucket=self.bucket, key=self.key, version=version,
                                       replaced=replaced, below=below, meta=meta,
                                       timestamp=timestamp)
                else:
                    self._marker_kept(bucket=self.bucket, key=self.key, marker=version,
                                      replaced=replaced, below=below, meta=meta,
                                      timestamp=timestamp)
                return True
            if kind == "put":
                self._version_put(bucket=self.bucket, key=self.key, version=version,
                                  replaced=replaced, meta=meta, timestamp=timestamp)
            else:
                self._delete_marker_placed(bucket=self.bucket, key=self.key, marker=version,
                                           replaced=replaced, meta=meta, timestamp=timestamp)
            return True
        version_id = change["version_id"]
        if not any(v["version_id"] == version_id for v in self.versions):
            return False
        if kind == "remove":
            try:  # object lock here holds whatever another site removed
                check_removable(self.find_version(version_id), timestamp, False)
            except ObjectLocked:
                return False
            self._version_deleted(bucket=self.bucket, key=self.key, version_id=version_id,
                                  meta=meta, timestamp=timestamp)
        elif kind == "tags":
            self._tags_changed(bucket=self.bucket, key=self.key, version_id=version_id,
                               tags=change["tags"], meta=meta, timestamp=timestamp)
        else:
            self._acl_changed(bucket=self.bucket, key=self.key, version_id=version_id,
                              acl=change["acl"], meta=meta, timestamp=timestamp)
        return True

    def _newer_than(self, version: Version, replaced: list[str]) -> str | None:
        """The id of the oldest version here that is newer than `version` by the
        convergence rule (later last-modified, then the greater version id); None
        when `version` is the newest."""
        rank = version_rank(version)
        for v in self.versions:  # oldest first, and kept in rank order by this rule
            if v["version_id"] not in replaced and version_rank(v) > rank:
                return v["version_id"]
        return None

    @event(VersionKept)
    def _version_kept(self, bucket: str, key: str, version: Version, replaced: list[str],
                      below: str, meta: RequestMeta, timestamp: datetime) -> None:
        self._keep_beneath(version, replaced, below)
        self._note_origin(meta)

    @event(MarkerKept)
    def _marker_kept(self, bucket: str, key: str, marker: Version, replaced: list[str],
                     below: str, meta: RequestMeta, timestamp: datetime) -> None:
        self._keep_beneath(marker, replaced, below)
        self._note_origin(meta)

    def _keep_beneath(self, version: Version, replaced: list[str], below: str) -> None:
        kept = [v for v in self.versions if v["version_id"] not in replaced]
        at = next(i for i, v in enumerate(kept) if v["version_id"] == below)
        self.versions = [*kept[:at], version, *kept[at:]]

    def _note_origin(self, meta: RequestMeta) -> None:
        site = meta.get("origin_site")
        if site is not None:  # replace, never mutate: a command's copy shares the dict
            self.replicated = {**getattr(self, "replicated", {}),
                               str(site): int(meta.get("origin_position", 0))}

    def _check_version_id(self, version_id: str, versioning: str) -> None:
        if versioning == ENABLED:
            if version_id == NULL_VERSION or any(
                v["version_id"] == version_id for v in self.versions
            ):
                raise InvalidArgument(
                    "A new version needs a fresh version id", version_id=version_id
                )
        elif version_id != NULL_VERSION:
            raise InvalidArgument(
                "Without versioning enabled, a new version is the null version",
                version_id=version_id,
            )
