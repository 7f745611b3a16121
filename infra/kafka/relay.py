"""The relay (transactional outbox): publishes the event store's log to Kafka, in order.

It reads the notification log after its tracked position, sends each event keyed by
bucket, waits for the broker's acknowledgements, writes one watermark to every
partition, and only then moves its tracked position (at least once: a crash before
that resends the batch, and consumers drop what they have seen).

The store is the source of truth. When the broker has lost what it acknowledged (the
topic is empty, or a partition's offsets went backwards), the relay publishes the
whole log again from position 0.

Events go out in batches of many records (one produce request per partition for a
whole batch of events), on every broker. tansu reports a partition's end as one past
the *first* offset of its last batch; each watermark is a batch of its own and is the
last record the relay acknowledges in a partition, so every end the relay and the
views compare with (the offset after a watermark) is one tansu reports rightly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from domain.application import ObjectStore
from domain.envelope import envelope
from infra.kafka import records as kafka
from infra.kafka.relay_tracking import (
    PostgresRelayTracking,
    RelayPlace,
    RelayTracking,
    SQLiteRelayTracking,
)
from infra.settings import Settings

log = logging.getLogger("strata.relay")
RELAY_NAME = "strata.events"


def open_tracking(settings: Settings) -> SQLiteRelayTracking | PostgresRelayTracking:
    if settings.event_store:
        return PostgresRelayTracking(settings.event_store, RELAY_NAME)
    return SQLiteRelayTracking(settings.data_dir / "events.sqlite3", RELAY_NAME)


class BrokerLostData(Exception):
    """The broker no longer holds what it acknowledged."""


class Relay:
    def __init__(
        self,
        store: ObjectStore,
        tracking: RelayTracking,
        servers: str,
        topic: str,
        partitions: int,
        poll_seconds: float = 0.02,
        batch_size: int = 500,
    ) -> None:
        self._store = store
        self._tracking = tracking
        self._servers = servers
        self._topic = topic
        self._wanted_partitions = partitions
        self._poll = poll_seconds
        self._batch_size = batch_size
        self.place = tracking.load()
        self.partitions = 0
        self.published = 0  # records sent and acknowledged, watermarks included
        self.republished = 0  # times the whole log was sent again
        self.last_published_at = time.monotonic()

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until `stop` is set; broker outages are waited out and retried."""
        while not stop.is_set():
            producer: AIOKafkaProducer | None = None
            try:
                self.partitions = await kafka.ensure_topic(
                    self._servers, self._topic, self._wanted_partitions
                )
                await self._check_broker()
                producer = kafka.producer(self._servers)
                await producer.start()
                await self._follow(producer, stop)
            except BrokerLostData as exc:
                self._start_over(str(exc))
            except (TimeoutError, KafkaError, OSError) as exc:
                log.warning("the broker at %s failed (%r); retrying in 1 s", self._servers, exc)
                await _sleep_unless(stop, 1.0)
            finally:
                if producer is not None:
                    with contextlib.suppress(KafkaError, OSError):
                        await producer.stop()

    async def _follow(self, producer: AIOKafkaProducer, stop: asyncio.Event) -> None:
        last_check = time.monotonic()
        while not stop.is_set():
            notifications = await asyncio.to_thread(
                self._store.recorder.select_notifications,
                start=self.place.position, limit=self._batch_size, inclusive_of_start=False,
            )
            if notifications:
                await self.publish(producer, notifications)
                continue
            if time.monotonic() - last_check > 2.0:
                await self._check_broker()  # an idle relay still notices a broker reset
                last_check = time.monotonic()
            await _sleep_unless(stop, self._poll)

    async def publish(self, producer: AIOKafkaProducer, notifications: Sequence[Any]) -> None:
        mapper = self._store.mapper
        pending = []
        for notification in notifications:
            record = kafka.event_record(
                notification, envelope(mapper.to_domain_event(notification), notification.id),
                self.place.epoch,
            )
            pending.append(await producer.send(
                self._topic, record.value, key=record.key, headers=record.headers,
                partition=kafka.partition_of(record.key, self.partitions),
            ))
        offsets = self._moved_on(list(await asyncio.gather(*pending)), dict(self.place.offsets))
        # Only now the watermarks: events acknowledged at offsets below earlier ones went
        # to a broker that lost its log, and a watermark after them would tell readers
        # that events lost with it came before.
        last = notifications[-1].id
        watermarks = [
            await producer.send(
                self._topic, kafka.watermark_value(last, self.place.offsets.get(p, -1)),
                partition=p,
                headers=kafka.watermark_headers(self.place.epoch),
            )
            for p in range(self.partitions)
        ]
        acked = list(await asyncio.gather(*watermarks))
        offsets = self._moved_on(acked, offsets)
        self.place = RelayPlace(last, offsets, self.place.epoch)
        await asyncio.to_thread(self._tracking.save, self.place)
        self.published += len(notifications) + len(acked)
        self.last_published_at = time.monotonic()

    @staticmethod
    def _moved_on(acked: list[Any], offsets: dict[int, int]) -> dict[int, int]:
        """`offsets` moved to the acknowledged ones; BrokerLostData if one went back."""
        for meta in acked:
            if meta.offset < offsets.get(meta.partition, -1):
                raise BrokerLostData(
                    f"partition {meta.partition} acknowledged offset {meta.offset} after "
                    f"{offsets[meta.partition]}"
                )
            offsets[meta.partition] = max(meta.offset, offsets.get(meta.partition, -1))
        return offsets

    async def _check_broker(self) -> None:
        if not self.place.offsets:
            return
        ends = await kafka.end_offsets(self._servers, self._topic)
        for partition, last in self.place.offsets.items():
            if ends.get(partition, 0) <= last:
                raise BrokerLostData(
                    f"partition {partition} ends at offset {ends.get(partition, 0)}, "
                    f"but offset {last} was acknowledged"
                )

    def _start_over(self, why: str) -> None:
        log.warning("the broker lost records (%s): publishing the log again from the store",
                    why)
        self.place = RelayPlace(epoch=self.place.epoch + 1)
        self._tracking.save(self.place)
        self.republished += 1


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def relay_lag(store: ObjectStore, tracking: RelayTracking, now: float) -> tuple[int, float]:
    """Events not yet relayed, and the age in seconds of the oldest of them."""
    return lag_behind(store, tracking.load().position, log_head(store), now)


def log_head(store: ObjectStore) -> int:
    return store.recorder.max_notification_id() or 0


def lag_behind(store: ObjectStore, position: int, head: int, now: float) -> tuple[int, float]:
    """Events of the log past `position` up to its `head`, and the age in seconds of the
    oldest of them."""
    if head <= position:
        return 0, 0.0
    oldest = store.recorder.select_notifications(
        start=position, limit=1, inclusive_of_start=False
    )
    if not oldest:
        return 0, 0.0
    event = store.decode(oldest[0])
    return head - position, max(0.0, now - event.timestamp.timestamp())
