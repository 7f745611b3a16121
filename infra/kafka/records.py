"""The Kafka side of the log: how an event becomes a record on `strata.events`, and back.

A record's value is the event envelope (docs/events.md), the contract for downstream
consumers. Its headers carry what strata's own consumers need to rebuild the exact
domain event without parsing the envelope: the log position, the aggregate id and
version, and the stored event (topic and state) as the event store holds it.

Every record carries the relay's *epoch*, which grows each time the relay publishes the
whole log again because the broker lost it; a consumer that sees it grow reads the
topic again from the start (what it has already applied is dropped as duplicates).

The relay also writes *watermark* records, one to every partition after each batch it
has published and the broker acknowledged: "every event up to this position that
belongs in this partition is before me". They let a consumer of all partitions put
events back in log order and know how far its views are complete (the read barrier).
Downstream consumers skip records whose `strata-kind` header is `watermark`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from aiokafka.partitioner import DefaultPartitioner
from eventsourcing.persistence import Notification

log = logging.getLogger("strata.kafka")

KIND = "strata-kind"
EVENT = b"event"
WATERMARK = b"watermark"
EPOCH = "strata-epoch"  # grows each time the relay publishes the whole log again
GLOBAL_KEY = b""  # events of no bucket (users, keys, nodes) share one key, so keep order
_PARTITIONER = DefaultPartitioner()


@dataclass(frozen=True)
class EventRecord:
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


def event_record(notification: Any, envelope: dict[str, Any], epoch: int) -> EventRecord:
    bucket = envelope.get("bucket")
    return EventRecord(
        key=bucket.encode() if bucket else GLOBAL_KEY,
        value=orjson.dumps(envelope),
        headers=[
            (KIND, EVENT),
            (EPOCH, str(epoch).encode()),
            ("strata-position", str(notification.id).encode()),
            ("strata-aggregate", str(notification.originator_id).encode()),
            ("strata-version", str(notification.originator_version).encode()),
            ("strata-topic", notification.topic.encode()),
            ("strata-state", bytes(notification.state)),
        ],
    )


def watermark_value(position: int, previous: int = -1) -> bytes:
    """`previous`: the offset of the relay's last acknowledged record in the partition
    before this publish (-1: none). A watermark at an offset not above it was sent into
    a broker that had lost its log, and says nothing true about what came before it."""
    return orjson.dumps({"watermark": position, "previous": previous})


def watermark_headers(epoch: int) -> list[tuple[str, bytes]]:
    return [(KIND, WATERMARK), (EPOCH, str(epoch).encode())]


@dataclass(frozen=True)
class Decoded:
    """A consumed record: an event (with its stored form) or a watermark."""

    position: int
    notification: Notification | None  # None for a watermark
    epoch: int = 1
    previous: int = -1  # a watermark's: see watermark_value


def decode(headers: Any, value: bytes | None) -> Decoded | None:
    """None for a record strata did not write."""
    found = dict(headers or ())
    kind = found.get(KIND)
    epoch = int(found.get(EPOCH, b"1"))
    if kind == WATERMARK and value is not None:
        mark = orjson.loads(value)
        return Decoded(int(mark["watermark"]), None, epoch, int(mark.get("previous", -1)))
    if kind != EVENT:
        return None
    position = int(found["strata-position"])
    return Decoded(
        position,
        Notification(
            originator_id=UUID(found["strata-aggregate"].decode()),
            originator_version=int(found["strata-version"]),
            topic=found["strata-topic"].decode(),
            state=found["strata-state"],
            id=position,
        ),
        epoch,
    )


def bootstrap(servers: str) -> list[str]:
    return [s.strip() for s in servers.split(",") if s.strip()]


class TopicTooSmall(KafkaError):  # type: ignore[misc]
    """The topic has fewer partitions than strata is configured with."""


async def ensure_topic(servers: str, topic: str, partitions: int) -> int:
    """Create `topic` unless it exists; return the partitions strata uses: the number it
    is configured with (STRATA_KAFKA_PARTITIONS). A topic with more is used as far as
    that number: a broker that lost its log re-creates a topic the moment any client
    asks for it, with its own default count (tansu: 4), before the relay can create it
    with the configured one, and every strata process must agree on the partitions."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap(servers), request_timeout_ms=10000)
    await admin.start()
    try:
        try:
            await admin.create_topics([NewTopic(topic, partitions, 1)])
            log.info("created topic %s with %d partitions", topic, partitions)
        except TopicAlreadyExistsError:
            pass
        for _ in range(50):
            described = await admin.describe_topics([topic])
            found = described[0].get("partitions") if described else None
            if found:
                if len(found) < partitions:
                    raise TopicTooSmall(
                        f"topic {topic} has {len(found)} partitions, fewer than the "
                        f"{partitions} STRATA_KAFKA_PARTITIONS names: add partitions to it "
                        "or set STRATA_KAFKA_PARTITIONS to its count")
                return partitions
            await asyncio.sleep(0.1)
        raise RuntimeError(f"topic {topic} has no partitions after it was created")
    finally:
        await admin.close()


def partition_of(key: bytes, partitions: int) -> int:
    """The partition of a record key: Kafka's default partitioner over the partitions
    strata uses (not over every partition the broker reports)."""
    return int(_PARTITIONER(key, list(range(partitions)), None))


def producer(servers: str, one_record_per_batch: bool = False) -> AIOKafkaProducer:
    """acks from all in-sync replicas. aiokafka keeps one batch in flight per partition,
    so a partition's records land in the order they were sent; records sent while a
    batch is in flight go together in the next one."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap(servers),
        acks="all",
        enable_idempotence=False,  # not supported by every broker (tansu); dedup is ours
        linger_ms=0,
        request_timeout_ms=10000,
        max_batch_size=1 if one_record_per_batch else 1 << 20,
    )


async def stop_consumer(consumer: AIOKafkaConsumer) -> None:
    """Stop `consumer`. aiokafka's stop() re-raises the CancelledError of a task of its
    own that it cancels before the task ever ran (a consumer stopped at once after start,
    as when the broker went away); that is not a cancellation of the caller, and letting
    it through once ended the relay on a broker restart."""
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise


async def end_offsets(servers: str, topic: str) -> dict[int, int]:
    """The next offset of every partition of `topic` (0: empty)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap(servers))
    await consumer.start()
    try:
        found = consumer.partitions_for_topic(topic) or ()
        parts = [TopicPartition(topic, p) for p in sorted(found)]
        if not parts:
            return {}
        ends = await consumer.end_offsets(parts)
        return {tp.partition: offset for tp, offset in ends.items()}
    finally:
        await stop_consumer(consumer)


async def read_range(
    servers: str, topic: str, partition: int, start: int, stop: int, wait_ms: int = 100,
    deadline_seconds: float = 30.0,
) -> list[Any]:
    """The records at offsets [start, stop) of one partition, read outside any group."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap(servers), enable_auto_commit=False,
                                fetch_max_wait_ms=wait_ms)
    await consumer.start()
    try:
        where = TopicPartition(topic, partition)
        consumer.assign([where])
        consumer.seek(where, start)
        found: list[Any] = []
        deadline = time.monotonic() + deadline_seconds
        while (not found or found[-1].offset < stop - 1) and time.monotonic() < deadline:
            batch = await consumer.getmany(where, timeout_ms=1000)
            records = batch.get(where, [])
            if not records and await consumer.position(where) >= stop:
                break  # the rest is gone (retention or compaction)
            found += [r for r in records if r.offset < stop]
        short = (found[-1].offset + 1) if found else start
        if short < stop:
            log.error("offsets %d to %d of %s[%d] could not be read again in %.0f s",
                      short, stop - 1, topic, partition, deadline_seconds)
        return found
    finally:
        await stop_consumer(consumer)
