"""A cluster on loopback: PostgreSQL, a real tansu broker, the relay, API instances and
workers as real processes."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from domain.application import ObjectStore
from domain.envelope import envelope
from infra.kafka import records as kafka
from infra.kafka.tansu import start_tansu, wait_until_serving
from infra.settings import Settings
from tests.conftest import Server, free_port, metric_value, server_env, start_together
from tests.nodes.conftest import SECRET, Node

TOPIC = "strata.events"
PARTITIONS = 3


@dataclass
class Broker:
    port: int
    log_dir: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        with open(self.log_dir / "tansu.log", "ab") as log:
            self.process = start_tansu("127.0.0.1", self.port, log)
        wait_until_serving(self.servers, TOPIC, PARTITIONS)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)


@dataclass
class Role:
    """`strata relay` or `strata worker` as a process."""

    command: str
    data_dir: Path
    env: dict[str, str]
    args: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.data_dir.parent / f"{self.command}-{self.data_dir.name}.log", "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "infra.run.cli", self.command, "--data-dir",
                 str(self.data_dir), *self.args],
                env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        if self.alive():
            assert self.process is not None
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.alive():
            assert self.process is not None
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    found = Broker(free_port(), tmp_path)
    found.start()
    try:
        yield found
    finally:
        found.stop()


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[list[Node]]:
    started = [Node(tmp_path / f"node-{i}", free_port(), zone)
               for i, zone in enumerate(("zone-a", "zone-b", "zone-c"))]
    try:
        start_together(started)
        yield started
    finally:
        for node in started:
            node.stop()


@pytest.fixture
def cluster_env(postgres_url: str, broker: Broker, nodes: list[Node], tmp_path: Path
                ) -> dict[str, str]:
    return server_env(
        STRATA_BLOBS="nodes", STRATA_CLUSTER_SECRET=SECRET, STRATA_NODE_PROBE_SECONDS="0.3",
        STRATA_NODE_DOWN_AFTER_SECONDS="1.5", STRATA_REPLICATION_INTERVAL_SECONDS="1",
        STRATA_EVENT_STORE=postgres_url,
        STRATA_KAFKA=broker.servers,
        STRATA_KAFKA_PARTITIONS=str(PARTITIONS),
        STRATA_KAFKA_ONE_RECORD_PER_BATCH="1",
        STRATA_KEYS_DIR=str(tmp_path / "keys"),
        STRATA_WORKER_SESSION_SECONDS="4",
    )


@pytest.fixture
def relay(cluster_env: dict[str, str], tmp_path: Path) -> Iterator[Role]:
    process = Role("relay", tmp_path / "relay", cluster_env)
    process.start()
    try:
        yield process
    finally:
        process.stop()


def api_instance(tmp_path: Path, env: dict[str, str], name: str) -> Server:
    return Server(tmp_path / name, free_port(), free_port(),
                  {**env, "STRATA_INSTANCE": name}, command="api")


def register_nodes(server: Server, nodes: list[Node], others: list[Server]) -> None:
    """Through `server`; then wait until every instance in `others` stores on them."""
    for node in nodes:
        r = httpx.post(f"{server.api}/admin/nodes", json={"url": node.url},
                       headers=server.token(), timeout=30)
        assert r.status_code == 201, r.text
    deadline = time.monotonic() + 20
    for other in others:
        while True:
            r = httpx.get(f"{other.api}/admin/durability", headers=other.token(), timeout=30)
            if r.status_code == 200 and sum(
                    n["up"] for n in r.json().get("nodes", [])) == len(nodes):
                break
            assert time.monotonic() < deadline, r.text
            time.sleep(0.1)


@pytest.fixture
def two_apis(cluster_env: dict[str, str], relay: Role, nodes: list[Node], tmp_path: Path
             ) -> Iterator[list[Server]]:
    with started_apis(cluster_env, nodes, tmp_path) as servers:
        yield servers


@contextlib.contextmanager
def started_apis(env: dict[str, str], nodes: list[Node], tmp_path: Path,
                 names: tuple[str, ...] = ("api-a", "api-b")) -> Iterator[list[Server]]:
    """API instances started together, storing on `nodes`; stopped after."""
    servers = [api_instance(tmp_path, env, name) for name in names]
    try:
        start_together(servers)
        register_nodes(servers[0], nodes, servers)
        yield servers
    finally:
        for server in servers:
            server.stop()


def read_topic(servers: str, topic: str = TOPIC, timeout: float = 10) -> list[Any]:
    """Every record of `topic` from offset 0, per partition in offset order."""

    async def read() -> list[Any]:
        consumer = AIOKafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False,
                                    fetch_max_wait_ms=20)
        await consumer.start()
        try:
            parts = [TopicPartition(topic, p)
                     for p in sorted(consumer.partitions_for_topic(topic) or ())]
            if not parts:
                return []
            ends = await consumer.end_offsets(parts)
            consumer.assign(parts)
            for tp in parts:
                consumer.seek(tp, 0)
            records: list[Any] = []
            deadline = time.monotonic() + timeout
            while [tp for tp in parts if await consumer.position(tp) < ends[tp]]:
                if time.monotonic() > deadline:
                    raise TimeoutError("the topic was not read to its end in time")
                batch = await consumer.getmany(timeout_ms=200)
                for found in batch.values():
                    records.extend(found)
            return records
        finally:
            await consumer.stop()

    return asyncio.run(read())


def store_notifications(postgres_url: str) -> list[Any]:
    """The whole notification log of the store."""
    store = ObjectStore(Settings(event_store=postgres_url).event_store_env())
    try:
        found: list[Any] = []
        while batch := store.recorder.select_notifications(
                start=found[-1].id if found else 0, limit=1000, inclusive_of_start=False):
            found += batch
        return found
    finally:
        store.close()


def stored_envelopes(postgres_url: str) -> list[dict[str, Any]]:
    store = ObjectStore(Settings(event_store=postgres_url).event_store_env())
    try:
        return [envelope(store.mapper.to_domain_event(n), n.id)
                for n in store_notifications(postgres_url)]
    finally:
        store.close()


def wait_until_relayed(postgres_url: str, timeout: float = 30) -> int:
    """The store's newest position, once the relay has had it acknowledged."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(postgres_url, autocommit=True) as db:
        while True:
            head = store_head(db)
            row = db.execute("SELECT position FROM strata_relay").fetchone()
            if row is not None and row[0] >= head:
                return head
            assert time.monotonic() < deadline, f"relay at {row}, store at {head}"
            time.sleep(0.05)


def store_head(db: psycopg.Connection[Any]) -> int:
    tables = [r[0] for r in db.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_name LIKE '%events'")]
    return max(int(db.execute(f"SELECT coalesce(max(notification_id), 0) FROM {t}")
                   .fetchone()[0]) for t in tables)  # type: ignore[index]


@dataclass(frozen=True)
class TopicEvent:
    partition: int
    key: bytes
    position: int
    ident: tuple[str, int]  # (aggregate id, version)
    envelope: dict[str, Any]
    epoch: int


def events_on_topic(servers: str) -> list[TopicEvent]:
    """Every event record on the topic, per partition in offset order; no watermarks."""
    found = []
    for record in read_topic(servers):
        decoded = kafka.decode(record.headers, record.value)
        if decoded is not None and (n := decoded.notification) is not None:
            found.append(TopicEvent(record.partition, record.key or b"", decoded.position,
                                    (str(n.originator_id), n.originator_version),
                                    orjson.loads(record.value), decoded.epoch))
    return found


def metric(base_url: str, name: str) -> float:
    """One value from a /metrics page (an API instance's or a worker's)."""
    return metric_value(httpx.get(f"{base_url}/metrics", timeout=10).text, name)