"""Issue 20 (found by the soak): records a relay sent into a broker that had just lost its
log, before the relay noticed, precede the whole log published again under a new epoch.
The views must not take them as a start: a watermark among them would mark as complete
events that were lost with the old log."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from domain.application import ObjectStore
from domain.envelope import envelope
from infra.kafka import records as kafka
from infra.run.system import all_projections
from infra.views.kafka_feed import KafkaViewFeed
from infra.views.rocksdb import RocksDBViewStore
from projections.object_listing import list_objects
from projections.runner import ProjectionRunner
from tests.conftest import META, now, version
from tests.kafka.conftest import PARTITIONS, TOPIC, Broker


def _publish(servers: str, store: ObjectStore, notifications: list, epoch: int,
             previous: int = -1, events: bool = True) -> None:
    async def send() -> None:
        producer = kafka.producer(servers)
        await producer.start()
        try:
            for n in notifications if events else ():
                record = kafka.event_record(
                    n, envelope(store.mapper.to_domain_event(n), n.id), epoch)
                await producer.send_and_wait(
                    TOPIC, record.value, key=record.key, headers=record.headers,
                    partition=kafka.partition_of(record.key, PARTITIONS))
            for p in range(PARTITIONS):
                await producer.send_and_wait(
                    TOPIC, kafka.watermark_value(notifications[-1].id, previous), partition=p,
                    headers=kafka.watermark_headers(epoch))
        finally:
            await producer.stop()

    asyncio.run(send())


def _store(tmp_path: Path) -> tuple[ObjectStore, list]:
    store = ObjectStore({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                         "SQLITE_DBNAME": str(tmp_path / "events.db")})
    store.create_bucket("bkt", "alice", META, now())
    for n in range(6):
        store.put_object("bkt", f"k{n}", version(f"v{n}"), META, now())
    return store, store.recorder.select_notifications(start=0, limit=100,
                                                       inclusive_of_start=False)


def _views_get_every_key(servers: str, store: ObjectStore, log: list, tmp_path: Path,
                         relay_epoch: int, meanwhile: Callable[[ProjectionRunner], None]
                         = lambda _runner: None) -> None:
    views = RocksDBViewStore(tmp_path / "views")
    runner = ProjectionRunner(store, views, all_projections())
    feed = KafkaViewFeed(runner, views, servers, TOPIC, "test-views", PARTITIONS,
                         relay_epoch=lambda: relay_epoch)
    feed.start()
    try:
        meanwhile(runner)
        deadline = time.monotonic() + 30
        while runner.position < log[-1].id:
            assert time.monotonic() < deadline, f"views at {runner.position}"
            time.sleep(0.05)
        keys = [entry.key for entry in list_objects(views, "bkt").entries]
        assert keys == [f"k{n}" for n in range(6)]
    finally:
        feed.stop()
        views.close()
        store.close()


def test_views_starting_on_a_refilled_topic_skip_what_came_before_the_refill(
    broker: Broker, tmp_path: Path,
) -> None:
    store, log = _store(tmp_path)
    # Epoch 1's last batch landed in the new broker (with its watermarks, as an older
    # relay sent them), then the relay noticed and published everything as epoch 2.
    _publish(broker.servers, store, log[-2:], epoch=1)
    _publish(broker.servers, store, log, epoch=2)
    _views_get_every_key(broker.servers, store, log, tmp_path, relay_epoch=2)


def test_a_watermark_sent_alone_into_a_broker_that_lost_its_log_is_not_believed(
    broker: Broker, tmp_path: Path,
) -> None:
    # The broker restarted between a publish's events (acknowledged by the old one) and
    # its watermarks: they land first in the new topic, before the relay notices and
    # publishes the log again. A view starting then must not take them as complete.
    store, log = _store(tmp_path)
    _publish(broker.servers, store, log, epoch=1, previous=500, events=False)

    def then_the_relay_publishes_again(runner: ProjectionRunner) -> None:
        # The watermarks alone must not move the views (2 s: this checks that nothing
        # happens, so it cannot wait for an event); then epoch 2 arrives.
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            assert runner.position == 0, "the views took the lone watermarks as complete"
            time.sleep(0.05)
        _publish(broker.servers, store, log, epoch=2)

    _views_get_every_key(broker.servers, store, log, tmp_path, relay_epoch=1,
                         meanwhile=then_the_relay_publishes_again)
