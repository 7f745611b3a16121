"""Settings: the one place that reads the environment."""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from domain.errors import InvalidArgument
from domain.public_access import parse_switches
from domain.sites import check_site_name

KiB, MiB = 1024, 1024 * 1024


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise SettingsError(f"{name}={raw!r}: use 1 or 0")


def _site_name(raw: str) -> str:
    if raw:
        try:
            check_site_name(raw)
        except InvalidArgument as exc:
            raise SettingsError(f"STRATA_SITE_NAME={raw[:64]!r}: {exc.message}") from None
    return raw


def _log_format(raw: str) -> str:
    if raw not in ("text", "json"):
        raise SettingsError(f"STRATA_LOG_FORMAT={raw[:16]!r}: use text or json")
    return raw


def _encryption_default(raw: str) -> str:
    if raw not in ("", "AES256"):
        raise SettingsError(f"STRATA_ENCRYPTION_DEFAULT={raw[:32]!r}: use AES256 (every new "
                            "object encrypted with SSE-S3) or leave it empty")
    return raw


def _oidc_issuer(issuer: str, client_id: str) -> str:
    if issuer and not issuer.startswith(("https://", "http://")):
        raise SettingsError(f"STRATA_OIDC_ISSUER={issuer[:64]!r}: the issuer is a URL, "
                            "such as https://login.example.com/realms/staff")
    if issuer and not client_id:
        raise SettingsError("STRATA_OIDC_ISSUER is set: set STRATA_OIDC_CLIENT_ID too (the "
                            "audience strata's tokens are issued for)")
    return issuer


def _origin(name: str, raw: str) -> str:
    """scheme://host[:port], as a browser names an origin: no path, no trailing slash."""
    url = urlsplit(raw)
    if url.scheme not in ("http", "https") or not url.hostname or url.path.strip("/") \
            or url.query or url.fragment:
        raise SettingsError(f"{name}={raw[:64]!r}: give an origin such as "
                            "https://s3.example.com or http://127.0.0.1:9000 (no path)")
    return f"{url.scheme}://{url.netloc}"


def _origins(name: str, raw: str) -> tuple[str, ...]:
    return tuple(_origin(name, part.strip()) for part in raw.split(",") if part.strip())


def _views_from(raw: str) -> str:
    if raw not in ("kafka", "store"):
        raise SettingsError(f"STRATA_VIEWS_FROM={raw[:32]!r}: say kafka (the topic, the "
                            "default) or store (the PostgreSQL log itself)")
    return raw


def _cells(raw: str) -> tuple[str, tuple[str, ...]]:
    """STRATA_EVENT_STORE: (the event store's URL, every cell's where it names several)."""
    urls = tuple(url.strip() for url in raw.split(",") if url.strip())
    if not urls:
        return "", ()
    return urls[0], urls if len(urls) > 1 else ()


def _workers(count: int) -> int:
    if not 1 <= count <= 256:
        raise SettingsError(f"STRATA_WORKERS={count}: give 1 to 256 processes (1: one "
                            "process serves everything)")
    return count


def _public_access_block(raw: str) -> str:
    try:
        parse_switches(raw)
    except ValueError as exc:
        raise SettingsError(f"STRATA_PUBLIC_ACCESS_BLOCK={raw[:64]!r}: {exc}") from None
    return raw


@dataclass(frozen=True)
class HttpLimits:
    head_bytes: int = 64 * 1024  # request line and every header together
    header_bytes: int = 16 * 1024  # one header's name and value
    headers: int = 300  # header lines
    head_seconds: float = 30.0  # from the first byte (or the connection) to the head's end
    body_stall_seconds: float = 60.0  # longest wait for the next byte of a body
    connections: int = 1024  # served at once; beyond, uvicorn answers 503


@dataclass(frozen=True)
class PgBudget:
    """How one process shares its PostgreSQL connections (STRATA_PG_CONNECTIONS): the
    relay's tracking row one, the bucket gates a third, the event store the rest."""

    total: int
    tracking: int
    gates: int
    event_store: int

    @classmethod
    def of(cls, total: int) -> PgBudget:
        if total < 4:
            raise SettingsError("STRATA_PG_CONNECTIONS must be at least 4")
        gates = max(1, total // 3)
        return cls(total, 1, gates, total - 1 - gates)


class SettingsError(ValueError):
    """A setting has a value strata cannot use; the message says which and why."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("strata-data")
    host: str = "127.0.0.1"
    s3_port: int = 9000
    api_port: int = 9001
    event_store: str = ""  # empty: SQLite in the data dir; or postgresql://user@host:port/db
    # several comma-separated URLs in STRATA_EVENT_STORE: the cells (architecture decision
    # 25); event_store is then the first, the home cell
    event_store_cells: tuple[str, ...] = ()
    root_access_key: str = ""
    root_secret_key: str = ""
    region: str = "us-east-1"
    domain: str = ""  # e.g. "localhost": bucket.localhost addresses a bucket by host name
    chunk_size: int = 8 * MiB
    small_chunk_bytes: int = 64 * KiB  # embedded: chunks up to this size in the chunk pack
    gc_grace_seconds: float = 3600.0
    gc_interval_seconds: float = 60.0
    token_ttl_seconds: int = 3600
    aggregate_cache_size: int = 4096
    log_level: str = "info"
    log_format: str = "text"  # "json": one JSON line per request (strata.access), no uvicorn lines
    access_log_max_bytes: int = 16 * MiB
    inventory_interval_seconds: float = 3600.0
    cluster_secret: str = ""  # signs every request to a blob node
    blob_backend: str = "local"  # "local": chunks in the data dir; "nodes": blob nodes
    replicas: int = 3  # with blob nodes
    write_quorum: int = 2
    node_probe_seconds: float = 2.0
    node_down_after_seconds: float = 10.0
    replication_interval_seconds: float = 30.0
    scrub_per_second: float = 10.0  # replicas read and verified a second, at most
    keys_dir_override: Path | None = None  # a cluster's API instances share one keys dir
    kafka: str = ""  # bootstrap servers, "host:port[,host:port]"; empty: no Kafka
    kafka_topic: str = "strata.events"
    kafka_partitions: int = 3
    kafka_one_record_per_batch: bool = False  # for the tansu test broker (README)
    kafka_fetch_wait_ms: int = 100  # how long a view feed's fetch may wait for records
    instance: str = ""  # names this process's consumer group; default: its API port
    relay_poll_seconds: float = 0.02
    worker_session_seconds: float = 10.0  # a dead worker's partitions move after this
    worker_attempts: int = 5  # a handler's tries before its event is dead-lettered
    worker_stall_seconds: float = 10.0  # a partition delivering nothing this long is read directly
    # Addresses whose X-Forwarded-For / X-Forwarded-Proto are believed (comma-separated
    # IPs or networks, "*" for any); empty: none, the peer's own address is the source.
    trusted_proxies: str = ""
    # PostgreSQL connections one process may hold: the event store's pool (2 kept open,
    # the rest on demand), the bucket gates' advisory locks, the relay's tracking row.
    pg_connections: int = 10
    pg_connect_seconds: float = 60.0  # how long a starting process retries the server
    metrics_token: str = ""  # when set, /metrics wants "Authorization: Bearer <it>"
    upload_expiry_seconds: int = 7 * 24 * 3600  # incomplete multipart uploads; 0: never
    upload_expiry_check_seconds: float = 3600.0
    lifecycle_day_seconds: int = 86400  # how long a lifecycle "day" is (shorter: tests, demos)
    # the store-wide public access block: "all", or some of BlockPublicAcls,
    # IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets ("" none)
    public_access_block: str = ""
    # single sign-on: an OpenID Connect issuer whose ID tokens (for this client id) sign
    # users in; the user claim names the strata user, members of the admin group (in the
    # groups claim) are administrators
    # TLS for both doors: a certificate and key (PEM files), or a development certificate
    # made in the keys dir (tls_self_signed)
    tls_cert: str = ""
    tls_key: str = ""
    tls_self_signed: bool = False
    # server-side encryption: every new object is encrypted with SSE-S3 unless it asks
    # otherwise ("AES256"), or only those asking or whose bucket says so ("")
    encryption_default: str = ""
    sse_c_allow_http: bool = False  # SSE-C keys over plain HTTP: for tests only
    key_rewrap_seconds: float = 300.0  # how often data keys of rotated keys are re-wrapped
    node_ca: str = ""  # a CA file that signs the blob nodes' certificates ("": the system's)
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_user_claim: str = "preferred_username"
    oidc_groups_claim: str = "groups"
    oidc_admin_group: str = ""
    head_timeout_seconds: float = 30.0  # a request head must arrive within this
    body_stall_seconds: float = 60.0  # a body may pause this long between bytes
    max_connections: int = 1024  # per door; beyond it new requests get 503
    site_name: str = ""  # this deployment's name to other sites (geo-replication)
    geo_retry_max_seconds: float = 30.0  # longest wait before trying an unreachable site
    geo_poll_seconds: float = 1.0  # how often an idle sender looks at the log and sites
    geo_bytes_per_second: int = 0  # chunk bytes a second to each site (0: no limit)
    # The web console (at /console/ on the native door) sends uploads straight to the S3
    # door: where browsers reach that door ("": the host they reached the console by, on
    # s3_port), and the console's origins the S3 door lets make presigned requests
    # ("": the native door's, on the host the browser reached the S3 door by)
    s3_public_url: str = ""
    console_origins: tuple[str, ...] = ()
    # `strata serve --workers N`: N processes serve both doors from one data dir; each
    # keeps its own views (worker 0 the data dir's own), one at a time runs the
    # background workers. 1: one process, as ever.
    workers: int = 1
    worker_index: int = 0
    # where a cluster's API instance feeds its views from: "kafka" (the topic) or
    # "store" (the PostgreSQL log itself, woken by LISTEN/NOTIFY: milliseconds, not the
    # broker's fetch wait; Kafka stays the log for workers and downstream consumers)
    views_from: str = "kafka"
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def http_limits(self) -> HttpLimits:
        return HttpLimits(
            head_seconds=self.head_timeout_seconds,
            body_stall_seconds=self.body_stall_seconds,
            connections=self.max_connections,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        defaults = cls()

        def number(name: str, default: float, kind: type[int] | type[float] = int) -> float:
            raw = env.get(name)
            if raw is None or raw == "":
                return default
            try:
                value = kind(raw)
            except ValueError:
                raise SettingsError(f"{name}={raw!r} is not a number") from None
            if value < 0:
                raise SettingsError(f"{name}={raw!r} may not be negative")
            return value

        event_store, event_store_cells = _cells(env.get("STRATA_EVENT_STORE", ""))
        return cls(
            data_dir=Path(env.get("STRATA_DATA_DIR") or defaults.data_dir),
            host=env.get("STRATA_HOST") or defaults.host,
            s3_port=int(number("STRATA_S3_PORT", defaults.s3_port)),
            api_port=int(number("STRATA_API_PORT", defaults.api_port)),
            event_store=event_store,
            event_store_cells=event_store_cells,
            root_access_key=env.get("STRATA_ROOT_ACCESS_KEY", ""),
            root_secret_key=env.get("STRATA_ROOT_SECRET_KEY", ""),
            region=env.get("STRATA_REGION") or defaults.region,
            domain=(env.get("STRATA_DOMAIN") or "").strip(".").lower(),
            chunk_size=int(number("STRATA_CHUNK_SIZE", defaults.chunk_size)),
            small_chunk_bytes=int(number("STRATA_SMALL_CHUNK_BYTES", defaults.small_chunk_bytes)),
            gc_grace_seconds=number("STRATA_GC_GRACE_SECONDS", defaults.gc_grace_seconds, float),
            gc_interval_seconds=number(
                "STRATA_GC_INTERVAL_SECONDS", defaults.gc_interval_seconds, float
            ),
            token_ttl_seconds=int(number("STRATA_TOKEN_TTL_SECONDS", defaults.token_ttl_seconds)),
            log_level=env.get("STRATA_LOG_LEVEL") or defaults.log_level,
            log_format=_log_format(env.get("STRATA_LOG_FORMAT") or defaults.log_format),
            inventory_interval_seconds=number(
                "STRATA_INVENTORY_INTERVAL_SECONDS", defaults.inventory_interval_seconds, float
            ),
            cluster_secret=env.get("STRATA_CLUSTER_SECRET", ""),
            blob_backend=env.get("STRATA_BLOBS") or defaults.blob_backend,
            replicas=int(number("STRATA_REPLICAS", defaults.replicas)),
            write_quorum=int(number("STRATA_WRITE_QUORUM", defaults.write_quorum)),
            node_probe_seconds=number(
                "STRATA_NODE_PROBE_SECONDS", defaults.node_probe_seconds, float
            ),
            replication_interval_seconds=number(
                "STRATA_REPLICATION_INTERVAL_SECONDS", defaults.replication_interval_seconds,
                float,
            ),
            scrub_per_second=number("STRATA_SCRUB_PER_SECOND", defaults.scrub_per_second, float),
            node_down_after_seconds=number(
                "STRATA_NODE_DOWN_AFTER_SECONDS", defaults.node_down_after_seconds, float
            ),
            access_log_max_bytes=int(
                number("STRATA_ACCESS_LOG_MAX_BYTES", defaults.access_log_max_bytes)
            ),
            keys_dir_override=Path(env["STRATA_KEYS_DIR"]) if env.get("STRATA_KEYS_DIR") else None,
            kafka=env.get("STRATA_KAFKA", ""),
            kafka_topic=env.get("STRATA_KAFKA_TOPIC") or defaults.kafka_topic,
            kafka_partitions=int(number("STRATA_KAFKA_PARTITIONS", defaults.kafka_partitions)),
            kafka_one_record_per_batch=_flag(env, "STRATA_KAFKA_ONE_RECORD_PER_BATCH"),
            kafka_fetch_wait_ms=int(
                number("STRATA_KAFKA_FETCH_WAIT_MS", defaults.kafka_fetch_wait_ms)),
            instance=env.get("STRATA_INSTANCE", ""),
            relay_poll_seconds=number(
                "STRATA_RELAY_POLL_SECONDS", defaults.relay_poll_seconds, float
            ),
            worker_session_seconds=number(
                "STRATA_WORKER_SESSION_SECONDS", defaults.worker_session_seconds, float
            ),
            trusted_proxies=(env.get("STRATA_TRUSTED_PROXIES") or "").strip(),
            pg_connections=int(number("STRATA_PG_CONNECTIONS", defaults.pg_connections)),
            pg_connect_seconds=number(
                "STRATA_PG_CONNECT_SECONDS", defaults.pg_connect_seconds, float
            ),
            metrics_token=env.get("STRATA_METRICS_TOKEN", ""),
            upload_expiry_seconds=int(
                number("STRATA_UPLOAD_EXPIRY_SECONDS", defaults.upload_expiry_seconds)
            ),
            public_access_block=_public_access_block(env.get("STRATA_PUBLIC_ACCESS_BLOCK", "")),
            tls_cert=env.get("STRATA_TLS_CERT", ""),
            tls_key=env.get("STRATA_TLS_KEY", ""),
            tls_self_signed=_flag(env, "STRATA_TLS_SELF_SIGNED"),
            node_ca=env.get("STRATA_NODE_CA", ""),
            encryption_default=_encryption_default(env.get("STRATA_ENCRYPTION_DEFAULT", "")),
            sse_c_allow_http=_flag(env, "STRATA_SSE_C_ALLOW_HTTP"),
            key_rewrap_seconds=number("STRATA_KEY_REWRAP_SECONDS",
                                      defaults.key_rewrap_seconds, float),
            oidc_issuer=_oidc_issuer(env.get("STRATA_OIDC_ISSUER", ""),
                                     env.get("STRATA_OIDC_CLIENT_ID", "")),
            oidc_client_id=env.get("STRATA_OIDC_CLIENT_ID", ""),
            oidc_user_claim=env.get("STRATA_OIDC_USER_CLAIM") or defaults.oidc_user_claim,
            oidc_groups_claim=env.get("STRATA_OIDC_GROUPS_CLAIM") or defaults.oidc_groups_claim,
            oidc_admin_group=env.get("STRATA_OIDC_ADMIN_GROUP", ""),
            lifecycle_day_seconds=int(
                number("STRATA_LIFECYCLE_DAY_SECONDS", defaults.lifecycle_day_seconds)
            ),
            upload_expiry_check_seconds=number(
                "STRATA_UPLOAD_EXPIRY_CHECK_SECONDS", defaults.upload_expiry_check_seconds, float
            ),
            head_timeout_seconds=number(
                "STRATA_HEAD_TIMEOUT_SECONDS", defaults.head_timeout_seconds, float
            ),
            body_stall_seconds=number(
                "STRATA_BODY_STALL_SECONDS", defaults.body_stall_seconds, float
            ),
            max_connections=int(number("STRATA_MAX_CONNECTIONS", defaults.max_connections)),
            workers=_workers(int(number("STRATA_WORKERS", defaults.workers))),
            views_from=_views_from(env.get("STRATA_VIEWS_FROM") or defaults.views_from),
            worker_attempts=int(number("STRATA_WORKER_ATTEMPTS", defaults.worker_attempts)),
            worker_stall_seconds=number(
                "STRATA_WORKER_STALL_SECONDS", defaults.worker_stall_seconds, float
            ),
            site_name=_site_name(env.get("STRATA_SITE_NAME", "")),
            s3_public_url=(_origin("STRATA_S3_PUBLIC_URL", env["STRATA_S3_PUBLIC_URL"])
                           if env.get("STRATA_S3_PUBLIC_URL") else ""),
            console_origins=_origins("STRATA_CONSOLE_ORIGINS",
                                     env.get("STRATA_CONSOLE_ORIGINS", "")),
            geo_retry_max_seconds=number(
                "STRATA_GEO_RETRY_MAX_SECONDS", defaults.geo_retry_max_seconds, float
            ),
            geo_poll_seconds=number("STRATA_GEO_POLL_SECONDS", defaults.geo_poll_seconds, float),
            geo_bytes_per_second=int(number("STRATA_GEO_BYTES_PER_SECOND",
                                            defaults.geo_bytes_per_second)),
        )

    def tls_files(self) -> tuple[str, str] | None:
        """The doors' certificate and key files, or None for plain HTTP."""
        if self.tls_self_signed:
            from infra.tls import self_signed

            cert, key = self_signed(self.keys_dir, [self.host])
            return str(cert), str(key)
        if bool(self.tls_cert) != bool(self.tls_key):
            raise SettingsError("TLS needs both a certificate and its key: set STRATA_TLS_CERT "
                                "and STRATA_TLS_KEY (or --tls-cert and --tls-key)")
        if not self.tls_cert:
            return None
        for path in (self.tls_cert, self.tls_key):
            if not Path(path).is_file():
                raise SettingsError(f"The TLS file {path!r} does not exist")
        return self.tls_cert, self.tls_key

    def node_verify(self) -> ssl.SSLContext | bool:
        """How the store checks https:// blob nodes: against STRATA_NODE_CA, else the
        system's CAs."""
        if not self.node_ca:
            return True
        if not Path(self.node_ca).is_file():
            raise SettingsError(f"STRATA_NODE_CA={self.node_ca!r}: no such file")
        return ssl.create_default_context(cafile=self.node_ca)

    @property
    def scheme(self) -> str:
        return "https" if self.tls_self_signed or self.tls_cert else "http"

    def check_blob_backend(self) -> None:
        if self.blob_backend not in ("local", "nodes"):
            raise SettingsError(
                f"STRATA_BLOBS={self.blob_backend!r}: use 'local' (chunks in the data dir) or "
                "'nodes' (blob nodes registered with 'strata node add')"
            )
        if self.blob_backend == "nodes" and not 1 <= self.write_quorum <= self.replicas:
            raise SettingsError(
                f"STRATA_WRITE_QUORUM={self.write_quorum} must be between 1 and "
                f"STRATA_REPLICAS={self.replicas}"
            )

    def require_cluster_role(self) -> str:
        """What `strata api`, `strata worker` and `strata relay`'s views need."""
        if not self.event_store:
            raise SettingsError(
                "a cluster process needs the shared event store: set STRATA_EVENT_STORE to a "
                "postgresql:// URL (the same on every process)"
            )
        if self.blob_backend != "nodes":
            raise SettingsError(
                "a cluster's API instances and workers keep chunks on blob nodes: set "
                "STRATA_BLOBS=nodes and STRATA_CLUSTER_SECRET ('strata cluster up --kafka' "
                "does it all)"
            )
        return self.require_kafka()

    def require_kafka(self) -> str:
        if not self.kafka:
            raise SettingsError(
                "STRATA_KAFKA must name the Kafka bootstrap servers (host:port) for this "
                "role; 'strata cluster up --kafka' starts a local broker and sets it"
            )
        if self.kafka_partitions < 1:
            raise SettingsError("STRATA_KAFKA_PARTITIONS must be at least 1")
        return self.kafka

    @property
    def instance_name(self) -> str:
        return self.instance or f"api-{self.api_port}"

    def require_cluster_secret(self) -> str:
        if len(self.cluster_secret) < 16:
            raise SettingsError(
                "STRATA_CLUSTER_SECRET must be set to at least 16 characters: blob nodes and "
                "strata sign every request with it (use the same value on every process)"
            )
        return self.cluster_secret

    @property
    def read_cache_size(self) -> int:
        """Queries are served from memory: over SQLite every write to the store
        invalidates them (its workers mark their commits for each other,
        infra/eventstore/marks.py); over PostgreSQL, shared by other processes, the
        views invalidate them as they apply the log, and a request is served from
        memory only once they have applied all the log held when it began."""
        return self.aggregate_cache_size

    @property
    def commit_marks_path(self) -> Path:
        return self.data_dir / "commit-marks"

    def check_cells(self) -> None:
        """What several event-store cells can be served with so far."""
        if len(set(self.event_store_cells)) != len(self.event_store_cells):
            raise SettingsError("STRATA_EVENT_STORE names the same database twice")
        if self.event_store_cells and self.kafka:
            raise SettingsError(
                "STRATA_EVENT_STORE names several databases (cells), which only "
                "`strata serve` serves so far: a relay and a Kafka topic per cell are not "
                "built yet (issue 28); name one database for a cluster with Kafka")

    def event_store_env(self, url: str = "") -> dict[str, str]:
        """The `env` for ObjectStore: which eventsourcing recorder, and where (`url`: one
        cell's database; by default the event store's, or the home cell's)."""
        env = {"AGGREGATE_CACHE_MAXSIZE": str(self.aggregate_cache_size),
               "TRANSCODER_TOPIC": "infra.eventstore.transcoding:FastEventTranscoder",
               "MAPPER_TOPIC": "infra.eventstore.transcoding:FastEventMapper"}
        if not self.event_store:
            env["PERSISTENCE_MODULE"] = "eventsourcing.sqlite"
            env["APPLICATION_RECORDER_TOPIC"] = "infra.eventstore.sqlite:SQLiteEventLog"
            env["SQLITE_DBNAME"] = str(self.data_dir / "events.sqlite3")
            env["SQLITE_LOCK_TIMEOUT"] = "30"
            # With one worker this process makes every write to its SQLite file (the data
            # dir's lock keeps a second server off it), so a saved aggregate is cached as
            # saved and a command loads it without asking the store for newer events.
            # With several, another worker may have written since: ask.
            env["AGGREGATE_CACHE_FASTFORWARD"] = "y" if self.workers > 1 else "n"
            return env
        parts = urlsplit(url or self.event_store)
        if parts.scheme not in ("postgresql", "postgres"):
            raise SettingsError(
                f"STRATA_EVENT_STORE={parts.geturl()!r}: use a postgresql:// URL (several, "
                "comma-separated, for cells), or leave it empty for the embedded SQLite store"
            )
        env.update(
            PERSISTENCE_MODULE="eventsourcing.postgres",
            POSTGRES_DBNAME=parts.path.lstrip("/") or "strata",
            POSTGRES_HOST=parts.hostname or "127.0.0.1",
            POSTGRES_PORT=str(parts.port or 5432),
            POSTGRES_USER=unquote(parts.username or "postgres"),
            POSTGRES_PASSWORD=unquote(parts.password or ""),
            POSTGRES_POOL_SIZE="2",
            POSTGRES_MAX_OVERFLOW=str(self.pg_budget.event_store - 2),
        )
        return env

    @property
    def pg_budget(self) -> PgBudget:
        return PgBudget.of(self.pg_connections)

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def chunk_pack_path(self) -> Path:
        return self.blob_dir / "pack.sqlite3"

    @property
    def views_dir(self) -> Path:
        """Each worker of `serve --workers N` keeps its own views; the first, the data
        dir's own (so one worker or several read the same views)."""
        return self.data_dir / ("views" if self.worker_index == 0
                                else f"views-{self.worker_index}")

    @property
    def scratch_dir(self) -> Path:
        return self.data_dir / "scratch"

    @property
    def access_log_dir(self) -> Path:
        return self.data_dir / "access-log"

    @property
    def keys_dir(self) -> Path:
        return self.keys_dir_override or self.data_dir / "keys"
