"""API instances whose views follow the PostgreSQL log itself (STRATA_VIEWS_FROM=store,
issue 28): a trigger NOTIFYs each commit and a listener wakes the views. Kafka stays
the log for the relay and workers. Read-after-write and list-after-write hold across
instances, with the relay to Kafka killed too; the listener is woken by a commit made
anywhere; and an instance's views catch up by themselves, with no read asking them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from infra.eventstore.log_notify import LogListener
from infra.run.system import open_system
from infra.settings import Settings
from tests.conftest import Server, wait_until
from tests.kafka.conftest import Role, started_apis
from tests.nodes.conftest import Node
from tests.s3.conftest import make_client


@pytest.fixture
def two_apis_from_store(cluster_env: dict[str, str], relay: Role, nodes: list[Node],
                        tmp_path: Path) -> Iterator[list[Server]]:
    with started_apis({**cluster_env, "STRATA_VIEWS_FROM": "store"}, nodes,
                      tmp_path) as servers:
        yield servers


def test_instances_read_and_list_each_others_writes_without_the_topic(
        two_apis_from_store: list[Server], relay: Role) -> None:
    a_server, b_server = two_apis_from_store
    a, b = make_client(a_server), make_client(b_server)
    a.create_bucket(Bucket="direct")
    for i in range(10):
        a.put_object(Bucket="direct", Key=f"k{i:02d}", Body=f"v{i}".encode())
        assert [o["Key"] for o in b.list_objects_v2(Bucket="direct")["Contents"]][-1] == \
            f"k{i:02d}"
        assert b.get_object(Bucket="direct", Key=f"k{i:02d}")["Body"].read() == \
            f"v{i}".encode()

    # with no read asking them to, the other instance's views catch up by themselves
    a.put_object(Bucket="direct", Key="quiet", Body=b"x")
    head = httpx.get(f"{a_server.api}/healthz").json()["views_position"]

    def b_caught_up() -> bool:
        return bool(httpx.get(f"{b_server.api}/healthz").json()["views_position"] >= head)
    wait_until(b_caught_up, 10, "the other instance's views stayed behind")

    # the relay killed, nothing more reaches the topic: views fed from it would stall
    # (their read barrier would time out); these do not
    relay.kill()
    for i in range(5):
        a.put_object(Bucket="direct", Key=f"z{i}", Body=b"x")
        assert [o["Key"] for o in b.list_objects_v2(Bucket="direct")["Contents"]][-1] == \
            f"z{i}"


def test_the_listener_is_woken_by_a_commit_made_anywhere(postgres_url: str,
                                                         tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "writer", event_store=postgres_url)
    system = open_system(settings)  # installs the trigger; its commits write the log
    woken = threading.Event()
    listener = LogListener(settings.event_store, woken.set)
    listener.start()
    try:
        assert listener.listening.wait(10)
        woken.clear()
        system.store.create_bucket("noticed", "root", {
            "actor": "root", "request_id": "t", "source": "127.0.0.1", "user_agent": "test"},
            datetime.now(UTC))
        assert woken.wait(10), "no notification reached the listener"
    finally:
        listener.stop()
        system.close()

