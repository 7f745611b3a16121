"""The composition root: builds every part of an embedded strata from Settings."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from api.native.metrics import StorageCollector, SystemCollector
from api.observability import RequestMetrics
from api.operations import delete_marker, new_version
from domain.application import ObjectStore
from domain.errors import AccessKeyAlreadyExists, InvalidArgument, UserAlreadyExists
from domain.ports import BlobStore, SiteLink
from domain.public_access import parse_switches
from domain.records import RequestMeta
from domain.runtime.periodic import Periodic
from domain.users import validate_access_key
from infra.access_log import DeniedLog
from infra.blobs.chunk_pack import ChunkPack, PackSizeCollector
from infra.blobs.local_files import LocalDiskBlobStore
from infra.blobs.membership import MembershipWatcher
from infra.blobs.nodes import NodeBlobStore
from infra.blobs.packed import PackedBlobStore
from infra.data_dir_lock import DataDirLock
from infra.eventstore.cells import CellStore
from infra.eventstore.directory import CellDirectory, check_cell_identities
from infra.eventstore.gates import (
    FileBucketGate,
    FileTurn,
    LocalBucketGate,
    PostgresBucketGate,
)
from infra.eventstore.log_notify import LogListener, install_log_trigger
from infra.eventstore.marks import MappedCommitMarks
from infra.eventstore.postgres import (
    ensure_database,
    prepared_store_env,
    retrying_connections,
    schema_lock,
)
from infra.exports.inventory import InventoryExporter
from infra.geo.native_link import NativeSiteLink
from infra.geo.pg_state import GeoLeadership, PostgresGeoState
from infra.geo.s3_link import S3_SCHEME, S3SiteLink
from infra.kafka.relay import open_tracking, relay_lag
from infra.keys import SecretBox, token_signing_key
from infra.kms import LocalKeyService
from infra.oidc import OidcSettings, OidcVerifier
from infra.private_dir import make_private
from infra.settings import Settings, SettingsError
from infra.views.kafka_feed import KafkaViewFeed
from infra.views.rocksdb import RocksDBViewStore
from projections.base import Projection
from projections.buckets import BucketsProjection
from projections.chunk_refs import ChunkRefsProjection
from projections.incarnations import IncarnationsProjection
from projections.nodes import NodesProjection
from projections.object_listing import ObjectListingProjection, is_bucket_empty
from projections.placement import PlacementProjection
from projections.runner import ProjectionRunner
from projections.sites import SiteRecord, SitesProjection
from projections.time_index import TimeIndexProjection
from projections.uploads import UploadsProjection, every_upload
from projections.users import UsersProjection
from workers.gc import GarbageCollector
from workers.geo import GeoReplication, GeoState
from workers.inventory import InventoryScheduler
from workers.key_rotation import KeyRewrapper
from workers.lifecycle import ACTOR as LIFECYCLE_ACTOR
from workers.lifecycle import LifecycleWorker
from workers.replication import Replicator
from workers.runner import LogFollower
from workers.upload_expiry import UploadExpirer

log = logging.getLogger("strata")
GC_SETTLE_SECONDS = 0.1
ROOT_USER = "root"
SYSTEM_META: RequestMeta = {"actor": "strata", "request_id": "", "source": "", "user_agent": ""}


def utc_now() -> datetime:
    return datetime.now(UTC)


def all_projections() -> list[Projection]:
    return [
        ObjectListingProjection(),
        TimeIndexProjection(),  # after the listing: it reads the listing's rows
        BucketsProjection(),
        IncarnationsProjection(),
        ChunkRefsProjection(),
        UploadsProjection(),
        NodesProjection(),
        SitesProjection(),
        PlacementProjection(),
        UsersProjection(),
    ]


@dataclass(frozen=True)
class RootCredentials:
    access_key: str
    secret_key: str
    generated: bool  # True when strata made them up on this start
    saved_in: str = ""  # the file they are kept in, when strata made them (this start or before)


class ViewBackedContents:
    """BucketContents from the views, after the read barrier."""

    def __init__(self, runner: ProjectionRunner, views: RocksDBViewStore, cell: int = 0) -> None:
        self._runner = runner
        self._views = views
        self._cell = cell

    def in_cell(self, cell: int) -> ViewBackedContents:
        """The same, for a bucket in `cell`: positions are that cell's."""
        return ViewBackedContents(self._runner, self._views, cell)

    def is_empty(self, bucket: str, position: int) -> bool:
        self._runner.wait_for(position, cell=self._cell)
        return is_bucket_empty(self._views, bucket)

    def open_uploads(self, bucket: str, position: int) -> list[tuple[str, str]]:
        self._runner.wait_for(position, cell=self._cell)
        return [(u.key, u.upload_id) for u in every_upload(self._views, bucket)]


@dataclass
class System:
    settings: Settings
    store: ObjectStore
    blobs: BlobStore
    views: RocksDBViewStore
    runner: ProjectionRunner
    gc: GarbageCollector
    gc_follower: LogFollower
    secret_box: SecretBox
    token_key: bytes
    contents: ViewBackedContents
    root: RootCredentials
    denied: DeniedLog
    inventory: InventoryExporter
    inventory_schedule: InventoryScheduler
    upload_expiry: UploadExpirer
    upload_expiry_job: Periodic
    lifecycle: LifecycleWorker
    lifecycle_job: Periodic
    keys: LocalKeyService
    key_rotation: KeyRewrapper
    key_rotation_job: Periodic
    oidc: OidcVerifier | None = None
    data_dir_lock: DataDirLock | None = None
    request_metrics: RequestMetrics = field(default_factory=RequestMetrics)
    role: str = "embedded"  # or "api" / "worker": a cluster process fed by Kafka
    feed: KafkaViewFeed | None = None  # the views' source in a cluster; else the store
    log_listener: LogListener | None = None  # wakes the views where they follow PostgreSQL
    relay_lag: Callable[[float], tuple[int, float]] | None = None  # (events, seconds) at now
    relay_epoch: Callable[[], int] | None = None  # how many times the relay published the log
    membership: MembershipWatcher | None = None  # with blob nodes
    replicator: Replicator | None = None
    replication_follower: LogFollower | None = None
    geo: GeoReplication | None = None  # sends changes to other sites
    geo_leadership: GeoLeadership | None = None  # a cluster's worker: sends while it leads
    started: bool = field(default=False)
    leads: bool = field(default=False)  # runs the background workers
    _relay_tracking: Any = None

    def reads_fresh(self, bucket: str) -> frozenset[int]:
        """Blocking: the cells a request about `bucket` reads (the home cell's users and
        keys, the bucket's cell) whose every committed change the views, and so the
        read caches, have applied: one look at each one's head."""
        cells = self.store.cells
        wanted = {0, self.store.cell_of(bucket)}
        positions = self.runner.positions
        return frozenset(cell for cell in wanted
                         if positions[cell] >= cells[cell].current_position())

    def start(self, background: bool = True) -> None:
        """Follow the log and watch the blob nodes; with `background`, run the
        background workers too (a worker of `serve --workers N` waits to lead first)."""
        if self.feed is not None:
            self.feed.start()
        else:
            self.runner.start()
        if self.log_listener is not None:
            self.log_listener.start()
        if self.membership is not None:
            self.membership.start()
        if background:
            self.start_background()
        self.started = True

    def start_background(self) -> None:
        """GC, replication, geo-replication, inventory, upload expiry, lifecycle and
        key rotation: one process of a data dir or cluster runs them."""
        if self.role != "api":  # API instances leave the workers to `strata worker`
            self.leads = True
            if self.replicator is not None:
                if self.role == "embedded" and self.replication_follower is not None:
                    self.replication_follower.start()
                self.replicator.start()
            if self.role == "embedded":
                self.gc_follower.start()
                if self.geo is not None:
                    self.geo.start()
            elif self.geo_leadership is not None:
                self.geo_leadership.start()
            self.gc.start()
            self.inventory_schedule.start()
            self.upload_expiry_job.start()
            self.lifecycle_job.start()
            self.key_rotation_job.start()

    def close(self) -> None:
        self.runner.closing()  # threads waiting at the read barrier let go first
        if self.geo_leadership is not None:
            self.geo_leadership.stop()
        if self.geo is not None:
            self.geo.stop()
        if self.replicator is not None and self.replication_follower is not None:
            self.replicator.stop()
            self.replication_follower.stop()
        if self.membership is not None:
            self.membership.stop()
        self.inventory_schedule.stop()
        self.upload_expiry_job.stop()
        self.lifecycle_job.stop()
        self.key_rotation_job.stop()
        self.gc.stop()
        self.gc_follower.stop()
        if isinstance(self.blobs, NodeBlobStore | PackedBlobStore):
            self.blobs.close()  # after what sweeps or surveys the chunks has stopped
        if self.feed is not None:
            self.feed.stop()
        if self.log_listener is not None:
            self.log_listener.stop()
        if self._relay_tracking is not None:
            self._relay_tracking.close()
        self.runner.stop()
        self.views.close()
        self.store.close()
        for cell in self.store.cells:
            if isinstance(cell.gate, PostgresBucketGate):
                cell.gate.close()
        if self.data_dir_lock is not None:
            self.data_dir_lock.release()


def _request_metrics(settings: Settings, views: RocksDBViewStore, role: str
                     ) -> RequestMetrics:
    metrics = RequestMetrics(json_log=settings.log_format == "json")
    if role != "worker":  # what is stored is the doors' to say, not every worker's too
        metrics.registry.register(StorageCollector(views))
    return metrics


def embedded_blobs(settings: Settings) -> BlobStore:
    """The embedded store's chunks: small ones packed, the rest as files."""
    files = LocalDiskBlobStore(settings.blob_dir)
    if settings.small_chunk_bytes == 0:
        return files
    turn = FileTurn(settings.blob_dir / "pack.turn") if settings.workers > 1 else None
    return PackedBlobStore(ChunkPack(settings.chunk_pack_path, turn), files,
                           settings.small_chunk_bytes)


def _open_store(settings: Settings) -> tuple[ObjectStore, Any]:
    env = prepared_store_env(settings)
    gate: LocalBucketGate | FileBucketGate | PostgresBucketGate = LocalBucketGate()
    relay_tracking = None
    with schema_lock(settings):
        if settings.event_store:  # other processes write too
            gate = PostgresBucketGate(settings.event_store, settings.pg_budget.gates)
        elif settings.workers > 1:  # other workers write to the same SQLite file
            gate = FileBucketGate(settings.data_dir / "gates")
        turn = marks = None
        if settings.workers > 1:
            turn = FileTurn(settings.data_dir / "events.turn")
            marks = MappedCommitMarks(settings.commit_marks_path)
        store = ObjectStore(env, gate, settings.read_cache_size, turn, marks,
                            others_write=bool(settings.event_store))
        if settings.event_store:  # views may follow the log itself (STRATA_VIEWS_FROM)
            recorder: Any = store.recorder
            install_log_trigger(settings.event_store, recorder.datastore.schema,
                                recorder.events_table_name)
        store.public_access_default = parse_switches(settings.public_access_block)
        if settings.kafka:
            relay_tracking = open_tracking(settings)
    if settings.event_store_cells:
        store = _with_cells(settings, store)
    return store, relay_tracking


def _with_cells(settings: Settings, home: ObjectStore) -> ObjectStore:
    """The home cell's store and every other cell's, behind one router (decision 25)."""
    settings.check_cells()
    cells = [home]
    for url in settings.event_store_cells[1:]:
        ensure_database(url)
        with schema_lock(settings, url):
            cell = ObjectStore(settings.event_store_env(url),
                               PostgresBucketGate(url, settings.pg_budget.gates),
                               settings.read_cache_size, others_write=True)
            recorder: Any = cell.recorder
            install_log_trigger(url, recorder.datastore.schema, recorder.events_table_name)
        cells.append(cell)
    check_cell_identities(settings.event_store_cells)
    for number, cell in enumerate(cells):
        cell.cell_number = number
    router = CellStore(cells, CellDirectory(settings.event_store, len(cells)))
    router.public_access_default = home.public_access_default
    # the router answers every ObjectStore call (architecture decision 25)
    return cast(ObjectStore, router)


def site_link(site: SiteRecord, secret: str, blobs: BlobStore) -> SiteLink:
    """Another strata through its native API, or another vendor's store through S3."""
    if site.endpoint.startswith(S3_SCHEME):
        return S3SiteLink(site.name, site.endpoint, site.access_key, secret, blobs)
    return NativeSiteLink(site.name, site.endpoint, site.access_key, secret)


def open_system(settings: Settings, role: str = "embedded") -> System:
    """Open (creating on first use) the data dir; the caller starts and closes it.
    `role`: "embedded" follows the store in-process; "api" and "worker" are cluster
    processes whose views follow the Kafka topic."""
    if role != "embedded":
        settings.require_cluster_role()
    make_private(settings.data_dir)
    if settings.workers > 1:  # `serve --workers N`: its supervisor holds the data dir
        return _open_system(settings, role, None)
    lock = DataDirLock(settings.data_dir, "serving it").acquire()
    try:
        return _open_system(settings, role, lock)
    except BaseException:
        lock.release()
        raise


def _open_system(settings: Settings, role: str, lock: DataDirLock | None) -> System:
    store, relay_tracking = retrying_connections(settings, lambda: _open_store(settings))
    relay_epoch = None if relay_tracking is None else (
        lambda: int(relay_tracking.load().epoch))
    feed = None
    settings.check_blob_backend()
    views = RocksDBViewStore(settings.views_dir)
    cells = store.cells
    runner = ProjectionRunner(
        cells[0], views, all_projections(), cells=cells[1:],
        # over PostgreSQL other processes write too: what the views apply, the read
        # caches drop (decision 26)
        on_applied=(lambda cell, changed: cells[cell].invalidate(changed))
        if settings.event_store else None)
    log_listener = None
    if role == "api" and settings.views_from == "store":
        log_listener = LogListener(settings.event_store, runner.wake)
    elif role != "embedded":
        feed = KafkaViewFeed(runner, views, settings.require_kafka(), settings.kafka_topic,
                             f"strata-views-{role}-{settings.instance_name}",
                             settings.kafka_partitions, settings.kafka_fetch_wait_ms,
                             relay_epoch)
    blobs: BlobStore
    membership = replicator = replication_follower = None
    if settings.blob_backend == "nodes":
        nodes = NodeBlobStore(settings.require_cluster_secret(), settings.replicas,
                              settings.write_quorum, settings.node_down_after_seconds,
                              gc_grace_seconds=settings.gc_grace_seconds,
                              verify=settings.node_verify())
        membership = MembershipWatcher(nodes, views, store.current_position, runner.wait_for,
                                       settings.node_probe_seconds)
        replicator = Replicator(store, views, runner.wait_for, nodes, utc_now,
                                settings.replication_interval_seconds, settings.scrub_per_second,
                                nodes.repairs.take)
        replication_follower = LogFollower("replication", store, views, replicator.handle)
        store.on_commit(replication_follower.wake)
        blobs = nodes
    else:
        blobs = embedded_blobs(settings)
    gc = GarbageCollector(
        store,
        views,
        runner.wait_for,
        blobs,
        settings.gc_grace_seconds,
        settings.gc_interval_seconds,
        utc_now,
    )
    # Sweeps come a grace period after a release: GC's follower need not be prompt.
    gc_follower = LogFollower("gc", store, views, gc.handle, settle_seconds=GC_SETTLE_SECONDS)
    store.on_commit(runner.wake)
    store.on_commit(gc_follower.wake)
    secret_box = SecretBox(settings.keys_dir)
    root = ensure_root(store, secret_box, settings)
    inventory = InventoryExporter(
        store, views, blobs, settings.chunk_size, settings.scratch_dir, utc_now, new_version
    )
    # in a Kafka cluster the senders' state is shared, and one worker at a time sends
    geo_state: GeoState = views
    geo_leadership = None
    if role != "embedded" and settings.event_store:
        geo_state = PostgresGeoState(settings.event_store)
    geo = GeoReplication(
        settings.site_name, store, views, geo_state, blobs,
        lambda site: site_link(site, secret_box.decrypt(site.secret_ciphertext), blobs),
        runner.wait_for, settings.geo_retry_max_seconds, settings.geo_poll_seconds,
        settings.geo_bytes_per_second)
    store.on_commit(geo.wake)
    if role == "worker" and settings.event_store:
        geo_leadership = GeoLeadership(settings.event_store, geo)
    upload_expiry = UploadExpirer(
        store, views, runner.wait_for, utc_now, settings.upload_expiry_seconds
    )
    keys = LocalKeyService(settings.keys_dir)
    key_rotation = KeyRewrapper(store, views, runner.wait_for, keys, utc_now)
    lifecycle = LifecycleWorker(
        store, views, runner.wait_for, utc_now, settings.lifecycle_day_seconds,
        lambda moment: delete_marker(LIFECYCLE_ACTOR, {"owner": LIFECYCLE_ACTOR, "grants": []},
                                     moment))
    system = System(
        settings=settings,
        store=store,
        blobs=blobs,
        views=views,
        runner=runner,
        gc=gc,
        gc_follower=gc_follower,
        secret_box=secret_box,
        token_key=token_signing_key(settings.keys_dir),
        contents=ViewBackedContents(runner, views),
        root=root,
        denied=DeniedLog(settings.access_log_dir, settings.access_log_max_bytes),
        inventory=inventory,
        role=role,
        feed=feed,
        log_listener=log_listener,
        relay_lag=None if relay_tracking is None else functools.partial(
            relay_lag, store, relay_tracking),
        relay_epoch=relay_epoch,
        _relay_tracking=relay_tracking,
        membership=membership,
        replicator=replicator,
        replication_follower=replication_follower,
        geo=geo,
        geo_leadership=geo_leadership,
        inventory_schedule=InventoryScheduler(
            store,
            views,
            runner.wait_for,
            inventory.export,
            utc_now,
            settings.inventory_interval_seconds,
        ),
        upload_expiry=upload_expiry,
        upload_expiry_job=Periodic("upload-expiry", settings.upload_expiry_check_seconds,
                                   upload_expiry.run_once, log),
        lifecycle=lifecycle,
        keys=keys,
        request_metrics=_request_metrics(settings, views, role),
        data_dir_lock=lock,
        key_rotation=key_rotation,
        key_rotation_job=Periodic("key-rotation", settings.key_rewrap_seconds,
                                  key_rotation.run_once, log),
        oidc=None if not settings.oidc_issuer else OidcVerifier(OidcSettings(
            settings.oidc_issuer, settings.oidc_client_id, settings.oidc_user_claim,
            settings.oidc_groups_claim, settings.oidc_admin_group)),
        # at least ten passes a lifecycle day: an expiry is acted on within a tenth of it
        lifecycle_job=Periodic("lifecycle", settings.lifecycle_day_seconds / 10,
                               lifecycle.run_once, log),
    )
    system.request_metrics.registry.register(SystemCollector(system))
    if isinstance(blobs, PackedBlobStore):
        system.request_metrics.registry.register(PackSizeCollector(blobs.pack.path))
    return system


def _generate(length: int, alphabet: str) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def root_credentials(settings: Settings) -> RootCredentials:
    """From STRATA_ROOT_* when set; else generated once and kept in the data dir."""
    if settings.root_access_key and settings.root_secret_key:
        return RootCredentials(settings.root_access_key, settings.root_secret_key, False)
    path: Path = settings.data_dir / "root-credentials.json"
    if path.exists():
        saved = json.loads(path.read_text())
        return RootCredentials(saved["access_key"], saved["secret_key"], False, str(path))
    creds = RootCredentials(
        "STRATA" + _generate(14, string.ascii_uppercase + string.digits),
        _generate(40, string.ascii_letters + string.digits),
        True,
        str(path),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"access_key": creds.access_key, "secret_key": creds.secret_key}, f)
    return creds


def ensure_root(store: ObjectStore, box: SecretBox, settings: Settings) -> RootCredentials:
    creds = root_credentials(settings)
    try:
        validate_access_key(creds.access_key, creds.secret_key)
    except InvalidArgument as exc:
        raise SettingsError(f"STRATA_ROOT_ACCESS_KEY / STRATA_ROOT_SECRET_KEY: {exc.message} "
                            "(or leave both unset: strata makes root credentials)") from None
    with contextlib.suppress(UserAlreadyExists):
        store.create_user(ROOT_USER, "strata administrator", True, SYSTEM_META, utc_now())
    try:
        store.add_access_key(
            ROOT_USER, creds.access_key, creds.secret_key, box.encrypt, SYSTEM_META, utc_now()
        )
    except AccessKeyAlreadyExists:
        _sync_root_secret(store, box, creds)
    return creds


def _sync_root_secret(store: ObjectStore, box: SecretBox, creds: RootCredentials) -> None:
    """The configured root secret wins over the stored one, as operators expect of env."""
    bound = store.credentials(creds.access_key)
    if bound.user != ROOT_USER:
        raise SettingsError(
            f"STRATA_ROOT_ACCESS_KEY {creds.access_key} already belongs to user {bound.user!r}; "
            "choose another access key for root"
        )
    if box.decrypt(bound.secret_ciphertext) != creds.secret_key:
        store.rotate_secret(creds.access_key, creds.secret_key, box.encrypt, SYSTEM_META, utc_now())
        log.warning("root secret for %s changed; the old secret no longer works", creds.access_key)
