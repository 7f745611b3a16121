"""What the doors need of the System the composition root opens (infra/run/system.py):
a typed seam, so that api/ neither opens a System nor imports infra to name one.

Read-only properties, so that a System holding a narrower type (RocksDB views, a
SQLite-backed store) still is one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, Protocol, cast

from api.observability import RequestMetrics
from domain.access import Principal
from domain.application import ObjectStore
from domain.ports import BlobStore, BucketContents, KeyService
from domain.records import ReplicationRule, RequestMeta
from projections.base import ViewReader
from projections.runner import ProjectionRunner


class DoorSettings(Protocol):
    @property
    def region(self) -> str: ...
    @property
    def domain(self) -> str: ...
    @property
    def chunk_size(self) -> int: ...
    @property
    def token_ttl_seconds(self) -> int: ...
    @property
    def upload_expiry_seconds(self) -> int: ...
    @property
    def lifecycle_day_seconds(self) -> int: ...
    @property
    def encryption_default(self) -> str: ...
    @property
    def sse_c_allow_http(self) -> bool: ...
    @property
    def metrics_token(self) -> str: ...
    @property
    def site_name(self) -> str: ...


class Secrets(Protocol):
    def encrypt(self, plaintext: str) -> str: ...
    def decrypt(self, ciphertext: str) -> str: ...


class RefusalLog(Protocol):
    def record(self, entry: dict[str, Any]) -> None: ...
    def entries(self) -> Iterator[dict[str, Any]]: ...


class InventoryExports(Protocol):
    def export(self, bucket: str, destination: str, key: str, meta: RequestMeta,
               moment: datetime | None = None) -> Any: ...  # a dataclass: asdict() of it


class NodeStore(BlobStore, Protocol):
    """The blob-node BlobStore's administration, where the System has blob nodes."""

    @property
    def replicas(self) -> int: ...
    @property
    def write_quorum(self) -> int: ...
    @property
    def repairs(self) -> Any: ...
    def members(self) -> Sequence[Any]: ...
    def readable(self) -> set[str]: ...
    def identify(self, url: str) -> dict[str, object]: ...
    def upload_urls(self, digest: str, expires: int, grant: str) -> list[str]: ...
    def granted_sizes(self, digest: str, grant: str) -> list[int]: ...


class Membership(Protocol):
    def refresh(self) -> None: ...


class SweepSeen(Protocol):
    referenced: int
    referenced_bytes: int
    in_grace: int
    in_grace_bytes: int


class Collector(Protocol):
    @property
    def sweeps(self) -> int: ...
    @property
    def chunks_collected(self) -> int: ...
    @property
    def bytes_collected(self) -> int: ...
    @property
    def last_sweep(self) -> SweepSeen: ...
    @property
    def chunks_refused(self) -> int: ...


class LifecycleTotals(Protocol):
    keys: int
    expired: int
    noncurrent_removed: int
    markers_removed: int
    uploads_aborted: int
    held: int


class IdentityProvider(Protocol):
    """An OpenID Connect issuer whose ID tokens sign users in (infra/oidc.py)."""

    def verify(self, token: str) -> dict[str, Any]: ...
    def principal(self, claims: dict[str, Any]) -> Principal: ...


class Lifecycle(Protocol):
    @property
    def passes(self) -> int: ...
    @property
    def totals(self) -> LifecycleTotals: ...


class Follower(Protocol):
    """An in-process worker following the log."""

    @property
    def name(self) -> str: ...
    @property
    def position(self) -> int: ...
    @property
    def dead_letters(self) -> int: ...


class Replication(Protocol):
    @property
    def stats(self) -> Any: ...  # a dataclass of counts: asdict() of it


class GeoSenders(Protocol):
    """Geo-replication's senders, as the rule status reads them."""

    def rule_status(self, bucket: str, rule: ReplicationRule,
                    now: datetime) -> dict[str, Any]: ...

    def site_metrics(self, now: datetime) -> dict[str, dict[str, float]]: ...

    def version_status(self, bucket: str, key: str, version_id: str,
                       rules: list[ReplicationRule]) -> str | None: ...


class Sequencer(Protocol):
    @property
    def held(self) -> int: ...
    @property
    def duplicates(self) -> int: ...


class ViewFeed(Protocol):
    """An API instance's views fed from Kafka."""

    @property
    def sequencer(self) -> Sequencer | None: ...


class System(Protocol):
    @property
    def settings(self) -> DoorSettings: ...
    @property
    def store(self) -> ObjectStore: ...
    @property
    def views(self) -> ViewReader: ...
    @property
    def runner(self) -> ProjectionRunner: ...
    @property
    def blobs(self) -> BlobStore: ...
    @property
    def secret_box(self) -> Secrets: ...
    @property
    def token_key(self) -> bytes: ...
    @property
    def contents(self) -> BucketContents: ...
    @property
    def denied(self) -> RefusalLog: ...
    @property
    def inventory(self) -> InventoryExports: ...
    @property
    def role(self) -> str: ...
    @property
    def membership(self) -> Membership | None: ...
    @property
    def relay_lag(self) -> Callable[[float], tuple[int, float]] | None: ...
    @property
    def feed(self) -> ViewFeed | None: ...
    @property
    def gc(self) -> Collector: ...
    @property
    def lifecycle(self) -> Lifecycle: ...
    @property
    def oidc(self) -> IdentityProvider | None: ...
    @property
    def keys(self) -> KeyService: ...
    @property
    def request_metrics(self) -> RequestMetrics: ...
    @property
    def gc_follower(self) -> Follower: ...
    @property
    def replication_follower(self) -> Follower | None: ...
    @property
    def replicator(self) -> Replication | None: ...
    @property
    def geo(self) -> GeoSenders | None: ...


def nodes_of(system: System) -> NodeStore | None:
    """The blob-node store when the System keeps chunks on blob nodes; else None."""
    if system.membership is None:
        return None
    return cast(NodeStore, system.blobs)  # the composition root pairs the two
