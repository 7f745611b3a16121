"""Issue 20 (found by the soak): records a relay sent into a broker that had just lost its
log, before the relay noticed, precede the whole log published again under a new epoch.
The views must not take them as a start: a watermark among them would mark as complete
events that were lost with the old log."""

from __future__ import annotations

import asyncio
import time
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


def _publish(servers: str, store: ObjectStore, notifications: list, epoch: int) -> None:
    async def send() -> None:
        producer = kafka.producer(servers)
        await producer.start()
        try:
            for n in notifications:
                record = kafka.event_record(
                    n, envelope(store.mapper.to_domain_event(n), n.id), epoch)
                await producer.send_and_wait(
                    TOPIC, record.value, key=record.key, headers=record.headers,
                    partition=kafka.partition_of(record.key, PARTITIONS))
            for p in range(PARTITIONS):
                await producer.send_and_wait(TOPIC, kafka.watermark_value(notifications[-1].id),
                                             partition=p, headers=kafka.watermark_headers(epoch))
        finally:
            await producer.stop()

    asyncio.run(send())


def test_views_starting_on_a_refilled_topic_skip_what_came_before_the_refill(
    broker: Broker, tmp_path: Path,
) -> None:
    store = ObjectStore({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                         "SQLITE_DBNAME": str(tmp_path / "events.db")})
    store.create_bucket("bkt", "alice", META, now())
    for n in range(6):
        store.put_object("bkt", f"k{n}", version(f"v{n}"), META, now())
    log = store.recorder.select_notifications(start=0, limit=100, inclusive_of_start=False)
    # Epoch 1's last batch landed in the new broker (with its watermarks, as an older
    # relay sent them), then the relay noticed and published everything as epoch 2.
    _publish(broker.servers, store, log[-2:], epoch=1)
    _publish(broker.servers, store, log, epoch=2)
    views = RocksDBViewStore(tmp_path / "views")
    runner = ProjectionRunner(store, views, all_projections())
    feed = KafkaViewFeed(runner, views, broker.servers, TOPIC, "test-views", PARTITIONS,
                         relay_epoch=lambda: 2)
    feed.start()
    try:
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
