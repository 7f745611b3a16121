"""The ObjectStore's core: saving, retrying, the log, and loading aggregates."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Notification, Recording
from eventsourcing.utils import Environment, get_topic

from domain.buckets import ENABLED, Bucket
from domain.errors import (
    ConflictingWrites,
    NoSuchBucket,
    NoSuchKey,
)
from domain.names import validate_object_key
from domain.objects import ObjectKey
from domain.ports import BucketGate, CommitMarks
from domain.public_access import NONE_BLOCKED, PublicAccessBlock
from domain.records import NULL_VERSION, Version
from domain.runtime.group_commit import GroupCommit, Turns, Unit
from domain.runtime.read_cache import (
    NoReadCache,
    NotInMemory,
    ReadCache,
    must_not_block,
    reads_are_fresh,
)
from domain.runtime.recent_events import Committed, RecentEvents
from domain.store.results import BucketInfo, bucket_info
from domain.transcoding import EventTranscoder

MAX_ATTEMPTS = 20
BUCKET_INFOS = 4096  # buckets whose settings are kept built (get_bucket)
RECENT_EVENTS = 2048  # kept for this process's followers where it makes every write
T = TypeVar("T")


@dataclass(frozen=True)
class _NoGate:
    @contextmanager
    def shared(self, bucket: str) -> Iterator[None]:
        yield

    exclusive = shared


class StoreCore(Application[Any]):
    """The eventsourcing Application under every command family: saving (group commit),
    retrying lost races, the log and its readers, and loading aggregates. Its name and
    snapshot intervals are ObjectStore's (domain/application.py)."""

    def __init__(
        self, env: Mapping[str, str], gate: BucketGate | None = None, read_cache_size: int = 0,
        commit_turn: Callable[[], AbstractContextManager[None]] | None = None,
        marks: CommitMarks | None = None, others_write: bool = False,
    ) -> None:
        """`read_cache_size` > 0: queries may be answered from a cache of aggregates.
        Where this instance makes every write to the store, always (and its followers
        read the events it committed last from memory). `commit_turn`: held around each
        write where other processes write the same store file (SQLite's own wait for
        its lock sleeps, up to 100 ms a try). `marks`: where they do, the commit marks
        that keep every process's read cache right. `others_write` (PostgreSQL, shared
        by API instances): the cache is kept right by `invalidate` as the views apply
        the log, and serves a request only once it is fresh (`set_reads_fresh`)."""
        self._marks = marks
        self._others_write = others_write
        self.cell_number = 0  # its place among the event store's cells (decision 25)
        self.gate: BucketGate = gate or _NoGate()
        # the operator's store-wide public access block (STRATA_PUBLIC_ACCESS_BLOCK)
        self.public_access_default: PublicAccessBlock = NONE_BLOCKED
        self._commit_listeners: list[Callable[[int], None]] = []
        self._bucket_infos: dict[UUID, tuple[int, PublicAccessBlock, BucketInfo]] = {}
        self._group: GroupCommit[Unit] = GroupCommit(self._write_units)
        self._turns = Turns()
        self._reads: ReadCache | NoReadCache = (
            ReadCache(read_cache_size, marks) if read_cache_size > 0 else NoReadCache()
        )
        self._recent = (RecentEvents(RECENT_EVENTS)
                        if read_cache_size > 0 and marks is None and not others_write
                        else None)
        super().__init__(env=dict(env))
        if commit_turn is not None:  # the rows' insert and commit only: encoding is not
            insert = self.recorder.insert_events

            def insert_in_turn(*args: Any, **kwargs: Any) -> Any:
                with commit_turn():
                    return insert(*args, **kwargs)
            self.recorder.insert_events = insert_in_turn  # type: ignore[method-assign]

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
            changed = {r.domain_event.originator_id for r in recordings}
            if self._marks is not None:  # before anyone is told: other processes' caches
                self._marks.mark(changed, max(r.notification.id for r in recordings))
            self._reads.committed(changed)
            if self._recent is not None:
                self._recent.committed(
                    Committed(r.notification.id, r.notification.topic, r.domain_event)
                    for r in recordings
                )
            position = max(r.notification.id for r in recordings)
            for listener in self._commit_listeners:
                listener(position)

    @property
    def cells(self) -> list[StoreCore]:
        """The event-store cells behind this store: one, itself (a router over several
        is infra.eventstore.cells.CellStore)."""
        return [self]

    def cell_of(self, bucket: str) -> int:
        """The cell holding `bucket`: with one, this store's."""
        return 0

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

    def invalidate(self, aggregate_ids: Iterable[UUID]) -> None:
        """Changes another process committed (where `others_write`): their aggregates
        are stale here from now on. Called as the views apply them, before their
        position counts as applied."""
        self._reads.committed(aggregate_ids)

    def _load(self, aggregate_id: UUID, query: bool) -> Any:
        """Queries may get a shared aggregate from the read cache: they never change it."""
        servable = not self._others_write or reads_are_fresh(self.cell_number)
        if must_not_block():
            if not query or not servable:
                raise NotInMemory
            return self._reads.peek(aggregate_id)
        if query:
            return self._reads.get(aggregate_id, lambda: self.repository.get(aggregate_id),
                                   servable)
        return self.repository.get(aggregate_id)

    def _bucket(self, name: str, *, query: bool = False) -> Bucket:
        try:
            bucket: Bucket = self._load(Bucket.create_id(name), query)
        except AggregateNotFoundError:
            raise NoSuchBucket("The specified bucket does not exist", bucket=name) from None
        bucket.ensure_live()
        return bucket

    def get_bucket(self, name: str) -> BucketInfo:
        bucket = self._bucket(name, query=True)
        # Every request reads its bucket's settings: built once a bucket version. A
        # change is a new version; the store-wide block is compared as the same object.
        kept = self._bucket_infos.get(bucket.id)
        if kept is not None and kept[0] == bucket.version and kept[1] is self.public_access_default:
            return kept[2]
        info = bucket_info(bucket, self.public_access_default)
        if len(self._bucket_infos) >= BUCKET_INFOS:
            self._bucket_infos.clear()
        self._bucket_infos[bucket.id] = (bucket.version, self.public_access_default, info)
        return info

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

    def _read_object_key(self, bucket: str, key: str) -> ObjectKey:
        self._bucket(bucket, query=True)
        return self._object_key(bucket, key, query=True)

def with_version_id(version: Version, versioning: str) -> Version:
    if versioning == ENABLED:
        return version
    return {**version, "version_id": NULL_VERSION}
