"""ObjectStore: the one eventsourcing Application. Commands follow get -> call -> save."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Notification, Recording
from eventsourcing.utils import Environment, get_topic

from domain.access import canned_acl
from domain.buckets import ENABLED, UNVERSIONED, Bucket
from domain.collection import GarbageSweep
from domain.errors import (
    AccessKeyAlreadyExists,
    BucketAlreadyExists,
    BucketNotEmpty,
    ConflictingWrites,
    InvalidAccessKeyId,
    NoSuchBucket,
    NoSuchKey,
    NoSuchNode,
    NoSuchUpload,
    NoSuchUser,
    UserAlreadyExists,
)
from domain.names import validate_object_key
from domain.nodes import BlobNode
from domain.objects import ObjectKey
from domain.ports import BucketContents, BucketGate
from domain.records import NULL_VERSION, Acl, InventoryConfig, RequestMeta, Version
from domain.replicas import ReplicaSurvey
from domain.runtime.group_commit import GroupCommit, Turns, Unit
from domain.runtime.read_cache import NoReadCache, NotInMemory, ReadCache, must_not_block
from domain.runtime.recent_events import Committed, RecentEvents
from domain.transcoding import EventTranscoder
from domain.uploads import MultipartUpload, ObjectTemplate, UploadedPart
from domain.users import AccessKey, User, validate_access_key

MAX_ATTEMPTS = 20
RECENT_EVENTS = 2048  # kept for this process's followers where it makes every write
T = TypeVar("T")


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


class _NoGate:
    @contextmanager
    def shared(self, bucket: str) -> Iterator[None]:
        yield

    exclusive = shared


class ObjectStore(Application[Any]):
    """Every command of strata's write model, and the strongly consistent reads."""

    name = "strata"
    # Not MultipartUpload: its snapshot holds every part so far (4.3 MB of snapshots for
    # 1,500 parts); a cold load replays its parts once, then the aggregate cache holds it.
    snapshotting_intervals = {ObjectKey: 64, User: 64}  # noqa: RUF012

    def __init__(
        self, env: Mapping[str, str], gate: BucketGate | None = None, read_cache_size: int = 0
    ) -> None:
        """`read_cache_size` > 0 only where this instance makes every write to the store
        (then its followers also read the events it committed last from memory)."""
        self.gate: BucketGate = gate or _NoGate()
        self._commit_listeners: list[Callable[[int], None]] = []
        self._group: GroupCommit[Unit] = GroupCommit(self._write_units)
        self._turns = Turns()
        self._reads: ReadCache | NoReadCache = (
            ReadCache(read_cache_size) if read_cache_size > 0 else NoReadCache()
        )
        self._recent = RecentEvents(RECENT_EVENTS) if read_cache_size > 0 else None
        super().__init__(env=dict(env))

    def construct_env(self, name: str, env: Mapping[str, str] | None = None) -> Environment:
        # infra.settings is the one reader of os.environ: use only what it passed us.
        # infra.settings may name a faster reader of the same format (TRANSCODER_TOPIC).
        merged = {"TRANSCODER_TOPIC": get_topic(EventTranscoder), **type(self).env}
        if type(self).snapshotting_intervals:
            merged["IS_SNAPSHOTTING_ENABLED"] = "y"
        merged.update(env or {})
        return Environment(name, merged)

    # -- store position and commit signal ------------------------------------------------

    def on_commit(self, listener: Callable[[int], None]) -> None:
        """Call `listener(position)` after each commit made through this instance."""
        self._commit_listeners.append(listener)

    def _notify(self, recordings: list[Recording[Any]]) -> None:
        if recordings:
            self._reads.committed({r.domain_event.originator_id for r in recordings})
            if self._recent is not None:
                self._recent.committed(
                    Committed(r.notification.id, r.notification.topic, r.domain_event)
                    for r in recordings
                )
            position = max(r.notification.id for r in recordings)
            for listener in self._commit_listeners:
                listener(position)

    def current_position(self) -> int:
        """The newest position in the notification log: the read barrier's target."""
        if must_not_block():
            raise NotInMemory
        return self.recorder.max_notification_id() or 0

    def select_notifications(self, start: int, limit: int) -> Sequence[Notification | Committed]:
        """Up to `limit` events after position `start`, in log order: from memory where
        this process committed them lately, else from the store. `decode` each."""
        if self._recent is not None:
            recent = self._recent.after(start, limit)
            if recent is not None:
                return recent
        return self.recorder.select_notifications(
            start=start, limit=limit, inclusive_of_start=False
        )

    def decode(self, notification: Notification | Committed) -> Any:
        """The domain event of a notification from `select_notifications` (or Kafka)."""
        if isinstance(notification, Committed):
            return notification.domain_event
        return self.mapper.to_domain_event(notification)

    def _save(self, *aggregates: Aggregate) -> int:
        """Record the aggregates' pending events atomically, in a transaction shared with
        the saves of concurrent commands (group commit); the newest position written."""
        return self._group.submit(Unit.of(aggregates))

    def _write_units(self, units: Sequence[Unit]) -> list[int]:
        # What Application.save does, less its runtime Protocol checks of every object
        # (about 40 µs of CPU a PUT): the units already hold their events, taken out of
        # their aggregates, which come along so that snapshots are still taken.
        processing: ProcessingEvent[UUID] = ProcessingEvent()
        processing.events = [event for unit in units for event in unit.events]
        processing.aggregates = {a.id: a for unit in units for a in unit.aggregates}
        recordings = self._record(processing)
        self._take_snapshots(processing)
        self._notify(recordings)
        newest: dict[UUID, int] = {}
        for recording in recordings:
            originator = recording.domain_event.originator_id
            newest[originator] = max(newest.get(originator, 0), recording.notification.id)
        return [max((newest.get(a.id, 0) for a in unit.aggregates), default=0) for unit in units]

    def _retrying(self, attempt: Callable[[], T], changes: UUID) -> T:
        """Run a get -> call -> save attempt again when a concurrent write won the race.

        Attempts on one aggregate (`changes`) take turns within this process, so they
        race only with other processes: under group commit, same-key writers in one
        batch would otherwise all but one fail, again and again.
        """
        with self._turns.turn(changes):
            for _ in range(MAX_ATTEMPTS):
                try:
                    return attempt()
                except IntegrityError:
                    continue
        raise ConflictingWrites("Too many concurrent writes to the same resource; retry")

    # -- buckets ------------------------------------------------------------------------

    def _load(self, aggregate_id: UUID, query: bool) -> Any:
        """Queries may get a shared aggregate from the read cache: they never change it."""
        if must_not_block():
            if not query:
                raise NotInMemory
            return self._reads.peek(aggregate_id)
        if query:
            return self._reads.get(aggregate_id, lambda: self.repository.get(aggregate_id))
        return self.repository.get(aggregate_id)

    def _bucket(self, name: str, *, query: bool = False) -> Bucket:
        try:
            bucket: Bucket = self._load(Bucket.create_id(name), query)
        except AggregateNotFoundError:
            raise NoSuchBucket("The specified bucket does not exist", bucket=name) from None
        bucket.ensure_live()
        return bucket

    def create_bucket(
        self,
        name: str,
        owner: str,
        meta: RequestMeta,
        now: datetime,
        acl: Acl | None = None,
        region: str = "us-east-1",
    ) -> BucketInfo:
        acl = acl or canned_acl("private", owner)

        def attempt() -> BucketInfo:
            try:
                bucket: Bucket = self.repository.get(Bucket.create_id(name))
            except AggregateNotFoundError:
                bucket = Bucket.create(name, owner, acl, region, meta, now)
            else:
                bucket.recreate(owner, acl, region, meta, now)
            self._save(bucket)
            return _bucket_info(bucket)

        try:
            return self._retrying(attempt, Bucket.create_id(name))
        except ConflictingWrites:
            raise BucketAlreadyExists("The requested bucket name is not available.") from None

    def get_bucket(self, name: str) -> BucketInfo:
        return _bucket_info(self._bucket(name, query=True))

    def delete_bucket(
        self, name: str, contents: BucketContents, meta: RequestMeta, now: datetime
    ) -> int:
        with self.gate.exclusive(name):
            bucket = self._bucket(name)
            if not contents.is_empty(name, self.current_position()):
                raise BucketNotEmpty("The bucket you tried to delete is not empty", bucket=name)
            bucket.delete(meta, now)
            return self._save(bucket)

    def _changing_bucket(self, name: str, change: Callable[[Bucket], None]) -> BucketInfo:
        """get -> change -> save of one bucket, again when a concurrent write won."""
        def attempt() -> BucketInfo:
            bucket = self._bucket(name)
            change(bucket)
            self._save(bucket)
            return _bucket_info(bucket)

        return self._retrying(attempt, Bucket.create_id(name))

    def set_bucket_versioning(
        self, name: str, status: str, meta: RequestMeta, now: datetime
    ) -> BucketInfo:
        return self._changing_bucket(name, lambda b: b.set_versioning(status, meta, now))

    def set_bucket_acl(self, name: str, acl: Acl, meta: RequestMeta, now: datetime) -> BucketInfo:
        return self._changing_bucket(name, lambda b: b.set_acl(acl, meta, now))

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

    # -- objects ------------------------------------------------------------------------

    def _object_key(self, bucket: str, key: str, *, query: bool = False) -> ObjectKey:
        validate_object_key(key)
        try:
            obj: ObjectKey = self._load(ObjectKey.create_id(bucket, key), query)
        except AggregateNotFoundError:
            raise NoSuchKey("The specified key does not exist.", bucket=bucket, key=key) from None
        return obj

    def _object_key_or_new(self, bucket: str, key: str, now: datetime) -> ObjectKey:
        try:
            return self._object_key(bucket, key)
        except NoSuchKey:
            return ObjectKey.create(bucket, key, now)

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
                stored = _with_version_id(version, info.versioning)
                obj.put_version(stored, info.versioning, meta, now)
                return ObjectInfo(bucket, key, stored, self._save(obj))

        return self._retrying(attempt, ObjectKey.create_id(bucket, key))

    def _read_object_key(self, bucket: str, key: str) -> ObjectKey:
        self._bucket(bucket, query=True)
        return self._object_key(bucket, key, query=True)

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
    ) -> DeleteResult:
        """Delete as S3 does; deleting a key that does not exist succeeds and changes nothing."""

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
                stored = _with_version_id(marker, info.versioning)
                placed = obj.delete(version_id, info.versioning, stored, meta, now)
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
            self._bucket(bucket, query=True)
            obj = self._object_key(bucket, key)
            obj.set_acl(version_id, acl, meta, now)
            return self._save(obj)

        return self._retrying(attempt, ObjectKey.create_id(bucket, key))

    # -- multipart uploads ----------------------------------------------------------------

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
            self._bucket(bucket, query=True)
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
    ) -> tuple[ObjectInfo, MultipartUpload]:
        """The parts become the key's new version and the upload ends, in one commit.
        Returns the version and the completed upload (its parts, as they were used)."""

        def attempt() -> tuple[ObjectInfo, MultipartUpload]:
            with self.gate.shared(bucket):
                info = self.get_bucket(bucket)
                upload = self.get_upload(bucket, key, upload_id)
                version = upload.assemble(requested, version_id, now.isoformat())
                obj = self._object_key_or_new(bucket, key, now)
                obj.check_write_condition(if_match, if_none_match)
                stored = _with_version_id(version, info.versioning)
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

    def record_garbage_sweep(
        self, run_id: str, digests: list[str], bytes_freed: int, meta: RequestMeta, now: datetime
    ) -> int:
        return self._save(GarbageSweep(run_id, digests, bytes_freed, meta, now))

    # -- blob nodes ---------------------------------------------------------------------

    def register_node(
        self, node_id: str, url: str, zone: str, meta: RequestMeta, now: datetime
    ) -> int:
        def attempt() -> int:
            try:
                node: BlobNode = self.repository.get(BlobNode.create_id(node_id))
            except AggregateNotFoundError:
                node = BlobNode.register(node_id, url, zone, meta, now)
            else:
                node.reinstate(url, zone, meta, now)
            return self._save(node) if node.pending_events else 0

        return self._retrying(attempt, BlobNode.create_id(node_id))

    def _node_change(self, node_id: str, change: Callable[[BlobNode], None]) -> int:
        def attempt() -> int:
            try:
                node: BlobNode = self.repository.get(BlobNode.create_id(node_id))
            except AggregateNotFoundError:
                raise NoSuchNode(f"No blob node {node_id!r} is registered",
                                 node_id=node_id) from None
            change(node)
            return self._save(node) if node.pending_events else 0

        return self._retrying(attempt, BlobNode.create_id(node_id))

    def drain_node(self, node_id: str, meta: RequestMeta, now: datetime) -> int:
        return self._node_change(node_id, lambda node: node.drain(meta, now))

    def remove_node(self, node_id: str, meta: RequestMeta, now: datetime) -> int:
        return self._node_change(node_id, lambda node: node.remove(meta, now))

    def record_replica_survey(
        self,
        run_id: str,
        placed: list[list[str]],
        dropped: list[list[str]],
        corrupt: list[list[str]],
        meta: RequestMeta,
        now: datetime,
    ) -> int:
        return self._save(ReplicaSurvey(run_id, placed, dropped, corrupt, meta, now))

    # -- users and access keys ---------------------------------------------------------

    def create_user(
        self, name: str, display_name: str, is_admin: bool, meta: RequestMeta, now: datetime
    ) -> UserInfo:
        user = User.create(name, display_name, is_admin, meta, now)
        try:
            self._save(user)
        except IntegrityError:
            raise UserAlreadyExists(f"A user named {name!r} exists already", user=name) from None
        return _user_info(user)

    def _user(self, name: str, *, query: bool = False) -> User:
        try:
            user: User = self._load(User.create_id(name), query)
        except AggregateNotFoundError:
            raise NoSuchUser(f"No user named {name!r}", user=name) from None
        return user

    def get_user(self, name: str) -> UserInfo:
        user = self._user(name, query=True)
        user.ensure_live()
        return _user_info(user)

    def add_access_key(
        self,
        user_name: str,
        access_key: str,
        secret: str,
        encrypt: Callable[[str], str],
        meta: RequestMeta,
        now: datetime,
    ) -> None:
        """Bind a new access key to a user; the secret is stored as `encrypt(secret)`."""
        validate_access_key(access_key, secret)

        def attempt() -> None:
            user = self._user(user_name)
            if AccessKey.create_id(access_key) in self.repository:
                raise AccessKeyAlreadyExists("That access key id is taken", access_key=access_key)
            key = AccessKey.create(access_key, user_name, encrypt(secret), meta, now)
            user.add_access_key(access_key, meta, now)
            self._save(user, key)

        self._retrying(attempt, User.create_id(user_name))

    def rotate_secret(
        self,
        access_key: str,
        secret: str,
        encrypt: Callable[[str], str],
        meta: RequestMeta,
        now: datetime,
    ) -> None:
        """Replace an access key's secret; the old secret stops working at once."""
        validate_access_key(access_key, secret)

        def attempt() -> None:
            key = self._access_key(access_key)
            key.rotate_secret(encrypt(secret), meta, now)
            self._save(key)

        self._retrying(attempt, AccessKey.create_id(access_key))

    def _access_key(self, access_key: str, *, query: bool = False) -> AccessKey:
        try:
            key: AccessKey = self._load(AccessKey.create_id(access_key), query)
        except AggregateNotFoundError:
            raise InvalidAccessKeyId(
                "The access key id you provided does not exist in our records.",
                access_key=access_key,
            ) from None
        return key

    def credentials(self, access_key: str) -> Credentials:
        """A usable key's credentials: InvalidAccessKeyId when the key is unknown,
        inactive or deleted, or its user was deleted."""
        key = self._access_key(access_key, query=True)
        key.ensure_usable()
        try:
            user = self.get_user(key.user)
        except NoSuchUser:
            raise InvalidAccessKeyId(
                "The access key id you provided does not exist in our records.",
                access_key=access_key,
            ) from None
        return Credentials(
            access_key, key.user, key.secret_ciphertext, user.is_admin, key.valid_since
        )

    def set_access_key_active(
        self, access_key: str, active: bool, meta: RequestMeta, now: datetime
    ) -> None:
        def attempt() -> None:
            key = self._access_key(access_key)
            key.set_active(active, meta, now)
            self._save(key)

        self._retrying(attempt, AccessKey.create_id(access_key))

    def delete_access_key(self, access_key: str, meta: RequestMeta, now: datetime) -> None:
        """The key and every token issued for it stop working at once; its id stays taken."""
        def attempt() -> None:
            key = self._access_key(access_key)
            key.delete(meta, now)
            self._save(key)

        self._retrying(attempt, AccessKey.create_id(access_key))

    def delete_user(self, name: str, meta: RequestMeta, now: datetime) -> None:
        """The user and all its keys, in one save. Its buckets stay, for an administrator
        to hand on or empty; the name cannot be taken again."""
        def attempt() -> None:
            user = self._user(name)
            user.delete(meta, now)
            keys = [self._access_key(k) for k in user.access_keys]
            for key in keys:
                key.delete(meta, now)
            self._save(user, *keys)

        self._retrying(attempt, User.create_id(name))


def _with_version_id(version: Version, versioning: str) -> Version:
    if versioning == ENABLED:
        return version
    return {**version, "version_id": NULL_VERSION}


def _bucket_info(bucket: Bucket) -> BucketInfo:
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
    )


def _user_info(user: User) -> UserInfo:
    return UserInfo(user.name, user.display_name, user.is_admin, tuple(user.access_keys))


__all__ = ["UNVERSIONED", "BucketInfo", "DeleteResult", "ObjectInfo", "ObjectStore"]
