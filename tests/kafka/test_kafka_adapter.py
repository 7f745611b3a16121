"""infra.kafka.records's short-lived clients against a real broker."""

from __future__ import annotations

import asyncio
import contextlib

from aiokafka import AIOKafkaConsumer

from infra.kafka import records as kafka
from tests.kafka.conftest import PARTITIONS, TOPIC, Broker


def test_end_offsets_of_a_topic_the_broker_lacks_are_empty_and_the_caller_goes_on(
    broker: Broker,
) -> None:
    # A fresh broker has no topic yet: the consumer is stopped at once after it started,
    # and aiokafka's stop() then raised a CancelledError that ended the relay.
    async def check() -> tuple[dict[int, int], str]:
        found = await kafka.end_offsets(broker.servers, "not-created-yet")
        await asyncio.sleep(0)
        return found, "went on"

    assert asyncio.run(check()) == ({}, "went on")


def test_end_offsets_of_the_topic_count_its_records(broker: Broker) -> None:
    async def check() -> dict[int, int]:
        producer = kafka.producer(broker.servers, one_record_per_batch=True)
        await producer.start()
        try:
            for n in range(3):
                await producer.send_and_wait(TOPIC, b"x", partition=n % 2)
        finally:
            await producer.stop()
        return await kafka.end_offsets(broker.servers, TOPIC)

    assert asyncio.run(check()) == {0: 2, 1: 1} | {p: 0 for p in range(2, PARTITIONS)}


def test_a_consumer_stopped_by_a_task_being_cancelled_lets_the_cancellation_through(
    broker: Broker,
) -> None:
    async def stopping() -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=broker.servers)
        await consumer.start()
        asyncio.current_task().cancel()  # type: ignore[union-attr]
        await kafka.stop_consumer(consumer)

    async def check() -> bool:
        task = asyncio.ensure_future(stopping())
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return task.cancelled()

    assert asyncio.run(check())


def test_a_partition_ending_in_a_single_record_batch_reports_its_end_rightly(
    broker: Broker,
) -> None:
    # tansu reports one past the first offset of a partition's last batch: short after a
    # batch of several records, right after a batch of one. The relay ends every publish
    # with one watermark per partition, each a batch of its own, and relies on this.
    async def check() -> tuple[int, int]:
        producer = kafka.producer(broker.servers)
        await producer.start()
        try:
            sent = [await producer.send(TOPIC, b"event", partition=0) for _ in range(5)]
            await asyncio.gather(*sent)
            short = (await kafka.end_offsets(broker.servers, TOPIC))[0]
            await producer.send_and_wait(TOPIC, b"watermark", partition=0)
        finally:
            await producer.stop()
        return short, (await kafka.end_offsets(broker.servers, TOPIC))[0]

    short, end = asyncio.run(check())
    assert short <= 5 and end == 6
