"""faust workers over `strata.events`: partitions split between two workers, moved to
the survivor when one is killed, and the work (replication, garbage collection) done."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from aiokafka.partitioner import DefaultPartitioner

from infra.run.worker_app import GROUP
from tests.conftest import Server, free_port, wait_until
from tests.kafka.conftest import (
    PARTITIONS,
    TOPIC,
    Broker,
    Role,
    api_instance,
    events_on_topic,
    read_topic,
    register_nodes,
    store_notifications,
    stored_envelopes,
    wait_until_relayed,
)
from tests.kafka.conftest import metric as metric_at
from tests.nodes.conftest import Node
from tests.s3.conftest import make_client


def metric(port: int, name: str) -> float:
    return metric_at(f"http://127.0.0.1:{port}", name)


TAKEOVER_SECONDS = 120


def last_lines(log: Path, count: int) -> str:
    """The worker's own lines about the events it handled or read again."""
    marks = ("handled up to", "not delivered")
    lines = [line for line in log.read_text(errors="replace").splitlines()
             if any(mark in line for mark in marks)]
    return "\n".join(lines[-count:])


@pytest.fixture
def api(cluster_env: dict[str, str], relay: Role, nodes: list[Node], tmp_path: Path
        ) -> Iterator[Server]:
    server = api_instance(tmp_path, cluster_env, "api-a")
    server.start()
    try:
        register_nodes(server, nodes, [server])
        yield server
    finally:
        server.stop()


def start_worker(name: str, env: dict[str, str], tmp_path: Path) -> tuple[Role, int]:
    port = free_port()
    worker = Role("worker", tmp_path / name,
                  {**env, "STRATA_INSTANCE": name, "STRATA_LOG_LEVEL": "debug"},
                  ["--metrics-port", str(port)])
    worker.start()
    try:
        wait_until(lambda: _answers(port) or not worker.alive(), 60, f"{name} serves /metrics")
        assert worker.alive(), f"{name} exited; see its log in {tmp_path}"
    except BaseException:  # not left running behind a failed start
        worker.stop()
        raise
    return worker, port


def spread_over_partitions(per_partition: int) -> list[str]:
    """Bucket names whose events land `per_partition` to a partition (the producer's
    default partitioner hashes the key)."""
    partitioner = DefaultPartitioner()
    chosen: dict[int, list[str]] = {p: [] for p in range(PARTITIONS)}
    for i in range(1000):
        name = f"spread-{i}"
        found = chosen[partitioner(name.encode(), list(range(PARTITIONS)), None)]
        if len(found) < per_partition:
            found.append(name)
    return [name for names in chosen.values() for name in names]


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


@pytest.mark.slow  # 40 s; `make test` keeps the dead-letter and stall tests of a worker
def test_two_workers_share_the_events_and_one_takes_over_when_the_other_is_killed(
    api: Server, cluster_env: dict[str, str], postgres_url: str, nodes: list[Node],
    tmp_path: Path,
) -> None:
    first, first_port = start_worker("worker-1", cluster_env, tmp_path)
    second, second_port = start_worker("worker-2", cluster_env, tmp_path)
    try:
        ports = (first_port, second_port)
        wait_until(lambda: all(metric(p, "strata_worker_partitions") > 0 for p in ports)
                   and sum(metric(p, "strata_worker_partitions") for p in ports) == PARTITIONS,
                   60, "the workers split the partitions")
        s3 = make_client(api)
        buckets = spread_over_partitions(2)
        for bucket in buckets:
            s3.create_bucket(Bucket=bucket)
            s3.put_object(Bucket=bucket, Key="k", Body=bucket.encode() * 1000)

        def handled() -> float:
            return sum(metric(p, "strata_worker_handled_total") for p in (first_port, second_port))

        wait_until(lambda: handled() == len(store_notifications(postgres_url)), 60,
                   lambda: f"every event handled once: {handled()} of "
                   f"{len(store_notifications(postgres_url))}; last lines:\n"
                   + last_lines(tmp_path / "worker-worker-1.log", 8) + "\n"
                   + last_lines(tmp_path / "worker-worker-2.log", 8))
        assert metric(first_port, "strata_worker_handled_total") > 0
        assert metric(second_port, "strata_worker_handled_total") > 0

        first.kill()
        before = metric(second_port, "strata_worker_handled_total")
        known = len(store_notifications(postgres_url))
        for bucket in buckets:
            s3.delete_object(Bucket=bucket, Key="k")
        new = len(store_notifications(postgres_url)) - known
        # the bound covers the session timeout, a rebalance and the table's recovery on a
        # loaded 2-core machine; a miss names what the survivor last did
        wait_until(lambda: metric(second_port, "strata_worker_handled_total") >= before + new,
                   TAKEOVER_SECONDS, lambda: "the survivor handles the killed worker's "
                   f"partitions too: {metric(second_port, 'strata_worker_handled_total')} of "
                   f"{before} + {new}, {metric(second_port, 'strata_worker_partitions')} "
                   f"partitions, {metric(second_port, 'strata_worker_duplicates_total')} "
                   "duplicates; its last lines:\n"
                   + last_lines(tmp_path / "worker-worker-2.log", 12))
        # garbage collection ran on those events: the deleted objects' chunks are gone
        wait_until(lambda: not any(path.is_file() for n in nodes
                                   for path in (n.data_dir / "chunks").rglob("*")),
                   60, "the deleted chunks are collected")
    finally:
        first.stop()
        second.stop()


def start_fake_worker(module: str, name: str, env: dict[str, str], tmp_path: Path
                      ) -> tuple[subprocess.Popen[bytes], int]:
    """A worker with a fault of its own (`tests.kafka.<module>`), serving /metrics."""
    port = free_port()
    with open(tmp_path / f"{name}.log", "ab") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", f"tests.kafka.{module}", str(tmp_path / name), str(port)],
            env={**env, "STRATA_INSTANCE": name}, stdout=log, stderr=subprocess.STDOUT)
    wait_until(lambda: _answers(port) or worker.poll() is not None, 60, f"{name} starts")
    assert worker.poll() is None, (tmp_path / f"{name}.log").read_text()
    return worker, port


def test_an_event_a_handler_keeps_failing_on_goes_to_the_dead_letter_topic(
    api: Server, cluster_env: dict[str, str], broker: Broker, postgres_url: str,
    tmp_path: Path,
) -> None:
    worker, port = start_fake_worker("poisoned_worker", "poisoned",
                                     {**cluster_env, "STRATA_WORKER_ATTEMPTS": "3"}, tmp_path)
    try:
        s3 = make_client(api)
        s3.create_bucket(Bucket="poison")
        s3.put_object(Bucket="poison", Key="k", Body=b"bad")
        s3.create_bucket(Bucket="healthy")
        s3.put_object(Bucket="healthy", Key="k", Body=b"good")
        # the workers record events of their own (replica surveys): count them all
        wait_until(lambda: metric(port, "strata_worker_handled_total")
                   == len(store_notifications(postgres_url)), 60,
                   lambda: f"{metric(port, 'strata_worker_handled_total')} handled")
        poison = [e["position"] for e in stored_envelopes(postgres_url)
                  if e["bucket"] == "poison"]
        assert metric(port, "strata_worker_dead_letters_total") == len(poison)
        assert metric(port, "strata_worker_retries_total") == 2 * len(poison)
        dead = [json.loads(r.value) for r in read_topic(broker.servers, TOPIC + ".dead")]
        assert sorted(d["event"]["position"] for d in dead) == poison
        assert all("cannot take the poison bucket" in d["error"] and d["attempts"] == 3
                   for d in dead)
    finally:
        worker.terminate()
        worker.wait(20)


class _AsFaust(RoundRobinPartitionAssignor):
    """The broker keeps a group to one assignment protocol: faust's is named `faust`."""

    name = "faust"


def commit_group_offsets_to_the_end(servers: str, after_position: int) -> int:
    """What faust does when it skips records: the group's committed offsets move past
    records its agent never saw. Returns how many events after `after_position` it skipped."""

    async def commit() -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=servers, group_id=GROUP,
                                    enable_auto_commit=False, session_timeout_ms=4000,
                                    partition_assignment_strategy=[_AsFaust])
        await consumer.start()
        try:
            consumer.subscribe([TOPIC])  # the broker takes commits from members only
            while len(consumer.assignment()) < PARTITIONS:
                await consumer.getmany(timeout_ms=200)
            parts = [TopicPartition(TOPIC, p) for p in range(PARTITIONS)]
            ends = await consumer.end_offsets(parts)
            await consumer.commit({tp: ends[tp] for tp in parts})
        finally:
            await consumer.stop()

    asyncio.run(commit())
    return sum(1 for e in events_on_topic(servers) if e.position > after_position)


@pytest.mark.slow  # about 60 s of rebalances; make test-all runs it
def test_records_the_group_skipped_are_read_again_and_handled(
    api: Server, cluster_env: dict[str, str], broker: Broker, postgres_url: str,
    tmp_path: Path,
) -> None:
    s3 = make_client(api)
    worker, port = start_worker("worker-1", cluster_env, tmp_path)
    try:
        s3.create_bucket(Bucket="before")
        wait_until(lambda: metric(port, "strata_worker_handled_total")
                   == len(store_notifications(postgres_url)), 60, "the first events are handled")
    finally:
        worker.stop()
    handled_before = store_notifications(postgres_url)[-1].id
    buckets = spread_over_partitions(1)
    for bucket in buckets:
        s3.create_bucket(Bucket=bucket)
    wait_until_relayed(postgres_url)
    skipped = commit_group_offsets_to_the_end(broker.servers, handled_before)
    assert skipped >= len(buckets)

    worker, port = start_worker("worker-1", cluster_env, tmp_path)
    try:
        for bucket in buckets:  # later records reveal the gap in every partition
            s3.put_object(Bucket=bucket, Key="k", Body=b"after")
        wait_until(lambda: metric(port, "strata_worker_handled_total")
                   >= len(store_notifications(postgres_url)) - handled_before, 60,
                   lambda: "the skipped events are handled: "
                   f"{metric(port, 'strata_worker_handled_total')} handled, "
                   f"{metric(port, 'strata_worker_recovered_total')} recovered; last lines:\n"
                   + last_lines(tmp_path / "worker-worker-1.log", 12))
        # faust may skip a few more on its own while the worker joins: those count too
        assert metric(port, "strata_worker_recovered_total") >= skipped
    finally:
        worker.stop()


def test_a_partition_faust_stops_delivering_from_is_read_directly(
    api: Server, cluster_env: dict[str, str], broker: Broker, postgres_url: str,
    tmp_path: Path,
) -> None:
    worker, port = start_fake_worker("stalled_worker", "stalled",
                                     {**cluster_env, "STRATA_WORKER_STALL_SECONDS": "2"}, tmp_path)
    try:
        wait_until(lambda: metric(port, "strata_worker_partitions") == PARTITIONS, 60,
                   "it has every partition")
        s3 = make_client(api)
        for bucket in spread_over_partitions(2):
            s3.create_bucket(Bucket=bucket)
            s3.put_object(Bucket=bucket, Key="k", Body=b"x")
        assert any(e.partition == 0 for e in events_on_topic(broker.servers))
        wait_until(lambda: metric(port, "strata_worker_handled_total")
                   == len(store_notifications(postgres_url)), 60,
                   lambda: f"{metric(port, 'strata_worker_handled_total')} handled of "
                   f"{len(store_notifications(postgres_url))}")
        assert metric(port, "strata_worker_stalls_total") >= 1
        assert metric(port, "strata_worker_recovered_total") >= 1
        assert "partition 0: nothing delivered" in (tmp_path / "stalled.log").read_text()
    finally:
        worker.terminate()
        worker.wait(20)
