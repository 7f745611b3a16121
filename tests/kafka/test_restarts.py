"""Issue 20, items 3 and 6: while a load runs, every role of the Kafka cluster is killed
with SIGKILL and started again (an API instance, the relay, a worker, a blob node, the
broker); each is back within a bound, no acknowledged write is lost, and afterwards
every process reaches the store's position, replication and garbage collection finish."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from botocore.exceptions import BotoCoreError, ClientError

from tests.conftest import Server, wait_until
from tests.kafka.conftest import PARTITIONS, Broker, Role, wait_until_relayed
from tests.kafka.test_workers import metric, spread_over_partitions, start_worker
from tests.nodes.conftest import Node
from tests.s3.conftest import make_client

BACK_SECONDS = 90  # a role serving again after its restart, on a loaded 2-core machine
CONVERGED_SECONDS = 90


class Writers:
    """Threads writing through both instances; what each key last acknowledged."""

    def __init__(self, apis: list[Server], buckets: list[str]) -> None:
        self.apis, self.buckets = apis, buckets
        self.stop = threading.Event()
        self.acked: dict[tuple[str, str], bytes | None] = {}  # None: deleted
        self.unsure: set[tuple[str, str]] = set()  # a write with no answer (a kill)
        self.done = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._write, args=(n,)) for n in range(4)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(60)

    def _write(self, n: int) -> None:
        clients = [make_client(api) for api in self.apis]
        i = 0
        while not self.stop.is_set():
            bucket = self.buckets[(n + i) % len(self.buckets)]
            key = f"w{n}/k{i % 7}"
            body = b"%d:%d" % (n, i) if i % 5 else None  # every fifth write a delete
            s3 = clients[i % 2]
            try:
                if body is None:
                    s3.delete_object(Bucket=bucket, Key=key)
                else:
                    s3.put_object(Bucket=bucket, Key=key, Body=body)
                with self.lock:
                    self.acked[(bucket, key)] = body
                    self.unsure.discard((bucket, key))
                    self.done += 1
            except (ClientError, BotoCoreError, OSError):
                with self.lock:
                    self.unsure.add((bucket, key))
                time.sleep(0.05)
            i += 1

    def progress(self) -> int:
        with self.lock:
            return self.done


def _back(what: str, check: Callable[[], bool], writers: Writers) -> None:
    """`check` holds and the load makes progress again, within BACK_SECONDS."""
    wait_until(check, BACK_SECONDS, f"{what} is serving again")
    before = writers.progress()
    wait_until(lambda: writers.progress() > before + 5, BACK_SECONDS,
               f"writes go on after {what} came back")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


# Five kills, each waited out by events (healthz, positions), add up to about 80 s
# here; a busier machine needs more than the suite's 120 s default.
@pytest.mark.slow  # a soak of five kills (75 s here): make test-all runs it
@pytest.mark.timeout(360)
def test_every_role_killed_under_load_comes_back_and_the_cluster_converges(
    two_apis: list[Server], relay: Role, broker: Broker, nodes: list[Node],
    cluster_env: dict[str, str], postgres_url: str, tmp_path: Path,
) -> None:
    workers = [start_worker(name, cluster_env, tmp_path) for name in ("worker-1", "worker-2")]
    try:
        _restart_every_role(two_apis, relay, broker, nodes, cluster_env, postgres_url,
                            tmp_path, workers)
    finally:  # also when a step failed: a worker left running would outlive the test
        for worker, _ in workers:
            worker.stop()


def _restart_every_role(
    two_apis: list[Server], relay: Role, broker: Broker, nodes: list[Node],
    cluster_env: dict[str, str], postgres_url: str, tmp_path: Path,
    workers: list[tuple[Role, int]],
) -> None:
    buckets = spread_over_partitions(1)
    setup = make_client(two_apis[0])
    for bucket in buckets:
        setup.create_bucket(Bucket=bucket)
    writers = Writers(two_apis, buckets)
    writers.start()
    try:
        _back("the load", lambda: writers.progress() > 20, writers)

        api = two_apis[1]
        api.kill()
        api.start(timeout=BACK_SECONDS)
        _back("an API instance", lambda: _answers(f"{api.api}/healthz"), writers)

        relay.kill()
        relay.start()
        _back("the relay", lambda: relay.alive() and wait_until_relayed(postgres_url) > 0,
              writers)

        worker, _ = workers[0]
        worker.kill()
        workers[0] = start_worker("worker-1", cluster_env, tmp_path)
        ports = [p for _, p in workers]
        _back("a worker", lambda: sum(metric(p, "strata_worker_partitions") for p in ports)
              == PARTITIONS, writers)

        node = nodes[0]
        node.kill()
        node.start()
        _back("a blob node", lambda: all(
            n["up"] for n in httpx.get(f"{two_apis[0].api}/admin/durability",
                                       headers=two_apis[0].token(), timeout=30
                                       ).json()["nodes"]), writers)

        broker.stop()  # SIGKILL: tansu keeps its log in memory, so all of it is gone
        broker.start()
        _back("the broker", lambda: relay.alive() and wait_until_relayed(postgres_url) > 0,
              writers)
    finally:
        writers.finish()

    # No acknowledged write is lost, through either instance.
    for api in two_apis:
        s3 = make_client(api)
        for (bucket, key), body in writers.acked.items():
            if (bucket, key) in writers.unsure:
                continue
            try:
                found: bytes | None = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            except ClientError as exc:
                assert exc.response["Error"]["Code"] == "NoSuchKey"
                found = None
            assert found == body, (bucket, key)

    # Every process reaches the store's position (the workers go on recording what
    # they do, so the position is read again each time).
    ports = [p for _, p in workers]
    seen: list[str] = [""]

    def converged() -> bool:
        head = wait_until_relayed(postgres_url)
        apis = [metric(s.api_port, "strata_views_position") for s in two_apis]
        views = [metric(p, "strata_views_position") for p in ports]
        seen[0] = f"store at {head}: API views at {apis}, worker views at {views}"
        return set(apis) == set(views) == {head}

    wait_until(converged, CONVERGED_SECONDS, lambda: seen[0])

    # Replication finishes: every chunk on its three nodes.
    def durability() -> dict:  # type: ignore[type-arg]
        return httpx.get(f"{two_apis[0].api}/admin/durability",
                         headers=two_apis[0].token(), timeout=30).json()

    wait_until(lambda: durability()["under_replicated"] == 0, CONVERGED_SECONDS,
               lambda: f"every chunk fully replicated: {durability()}")

    # Garbage collection finishes: once every object is deleted, no chunk is left.
    s3 = make_client(two_apis[0])
    for bucket in buckets:
        for listed in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=listed["Key"])
    wait_until(lambda: not any(path.is_file() for n in nodes
                               for path in (n.data_dir / "chunks").rglob("*")),
               CONVERGED_SECONDS, "every chunk of the deleted objects is collected")
