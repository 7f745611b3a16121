"""`strata events tail --kafka`: print the envelopes on `strata.events` as they come.

A downstream consumer in miniature: it skips watermarks, drops copies of events it has
printed (at-least-once delivery; the relay's republishing after a broker lost its log),
and filters like the HTTP event stream.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from domain.envelope import EventFilter
from infra.kafka import records as kafka


async def tail(servers: str, topic: str, wanted: EventFilter, from_start: bool, follow: bool,
               out: TextIO = sys.stdout, idle_seconds: float = 1.0) -> int:
    """The count printed. Without `follow`, stop once `idle_seconds` pass with nothing new."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap(servers),
                                enable_auto_commit=False, fetch_max_wait_ms=50)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic)
                                                           or ())]
        if not parts:
            raise SystemExit(f"strata: no topic {topic} on {servers}; is the relay running?")
        consumer.assign(parts)
        if from_start:
            await consumer.seek_to_beginning(*parts)
        else:
            await consumer.seek_to_end(*parts)
        printed = 0
        last: dict[int, int] = {}  # partition -> newest position printed from it
        while True:
            batches = await consumer.getmany(timeout_ms=int(idle_seconds * 1000))
            if not batches and not follow:
                return printed
            fetched: list[tuple[int, bytes]] = []
            for tp, records in batches.items():
                for record in records:
                    decoded = kafka.decode(record.headers, record.value)
                    if decoded is None or decoded.notification is None:
                        continue
                    if decoded.position <= last.get(tp.partition, 0):
                        continue
                    last[tp.partition] = decoded.position
                    assert record.value is not None
                    fetched.append((decoded.position, record.value))
            # what one fetch brings from several partitions, in the log's order
            for _, value in sorted(fetched, key=lambda found: found[0]):
                if wanted.matches(orjson.loads(value)):
                    out.write(value.decode() + "\n")
                    printed += 1
            out.flush()
    finally:
        await kafka.stop_consumer(consumer)


def run_tail(servers: str, topic: str, wanted: EventFilter, from_start: bool,
             follow: bool) -> int:
    try:
        return asyncio.run(tail(servers, topic, wanted, from_start, follow))
    except KeyboardInterrupt:
        return 0
