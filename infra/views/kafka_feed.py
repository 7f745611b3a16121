"""KafkaViewFeed: keeps a process's views current from `strata.events`.

Each API instance and worker keeps its own views, read from every partition of the
topic under its own consumer group. The Sequencer puts the events back in log order,
so the projections see exactly what the embedded runner would; the views' tracking
position is the log position they are complete up to, which makes the read barrier
(`ProjectionRunner.wait_for`) the same as in the embedded shape. The offsets to read
again after a restart are written in the same atomic batch as the view changes.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from infra.kafka import records as kafka
from projections.base import ViewStore
from projections.runner import ProjectionRunner
from projections.sequencer import Sequencer

log = logging.getLogger("strata.feed")


def offset_name(topic: str, partition: int) -> str:
    return f"kafka:{topic}:{partition}"


def epoch_name(topic: str) -> str:
    return f"kafka-epoch:{topic}"


class KafkaViewFeed:
    def __init__(
        self,
        runner: ProjectionRunner,
        views: ViewStore,
        servers: str,
        topic: str,
        group: str,
        partitions: int,
        fetch_wait_ms: int = 100,
        relay_epoch: Callable[[], int] | None = None,
    ) -> None:
        self._runner = runner
        self._relay_epoch = relay_epoch
        self._fetch_wait_ms = fetch_wait_ms
        self._views = views
        self._servers = servers
        self._topic = topic
        self._group = group
        self._wanted_partitions = partitions
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.applied_events = 0
        self.sequencer: Sequencer | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="kafka-views", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        while not self._stop.is_set():
            try:
                await self._consume()
            except (TimeoutError, KafkaError, OSError) as exc:
                log.warning("reading %s failed (%r); retrying in 1 s", self._topic, exc)
                await asyncio.sleep(1.0)
            except Exception as exc:  # a view that cannot apply an event must be seen
                log.exception("the views stopped at position %d", self._runner.position)
                self._runner.error = exc
                return

    async def _consume(self) -> None:
        partitions = await kafka.ensure_topic(self._servers, self._topic, self._wanted_partitions)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=kafka.bootstrap(self._servers),
            group_id=self._group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=2000,
            # Kafka answers a fetch as soon as a record arrives; tansu waits out the whole
            # wait (which delays each read-after-write) yet answers empty when finding the
            # records takes longer than the wait (which stalls a catch-up below ~100 ms)
            fetch_max_wait_ms=self._fetch_wait_ms,
        )
        await consumer.start()
        try:
            parts = [TopicPartition(self._topic, p) for p in range(partitions)]
            consumer.assign(parts)
            next_offsets = {p.partition: self._views.position(
                offset_name(self._topic, p.partition)) for p in parts}
            if self._runner.position == 0:
                next_offsets = dict.fromkeys(next_offsets, 0)  # views rebuilt: the whole topic
            epoch = self._views.position(epoch_name(self._topic))
            published = await self._published_epoch()
            if published and epoch > published:
                epoch = published  # counted by an earlier strata that guessed epochs
            if published > epoch:  # a refill these views have not read (or their start)
                epoch, next_offsets = published, dict.fromkeys(next_offsets, 0)
            while not self._stop.is_set():
                found = await self._read(consumer, parts, next_offsets, epoch)
                if found is None:
                    return
                log.warning("the broker's log was refilled (relay epoch %d): reading %s "
                            "again from the start", found, self._topic)
                epoch, next_offsets = found, dict.fromkeys(next_offsets, 0)
        finally:
            await kafka.stop_consumer(consumer)

    async def _read(
        self,
        consumer: AIOKafkaConsumer,
        parts: list[TopicPartition],
        next_offsets: dict[int, int],
        epoch: int,
    ) -> int | None:
        """Read from `next_offsets` until stopped (None), or until the relay's epoch grows:
        the epoch to read the topic again in, from the start."""
        for tp in parts:
            consumer.seek(tp, next_offsets[tp.partition])
        sequencer = self.sequencer = Sequencer(next_offsets, self._runner.position)
        quiet_since = time.monotonic()
        while not self._stop.is_set():
            batches = await consumer.getmany(timeout_ms=200, max_records=2000)
            for tp, records in batches.items():
                for record in records:
                    decoded = kafka.decode(record.headers, record.value)
                    if decoded is None:
                        continue
                    if decoded.epoch > epoch:
                        if epoch == 0:  # the first record this view ever read
                            epoch = decoded.epoch
                        else:
                            return decoded.epoch
                    if decoded.epoch < epoch:
                        # Sent before the relay found the broker had lost its log: what
                        # came before it in that epoch is gone, and the current epoch
                        # holds the whole log again.
                        continue
                    if decoded.notification is None:
                        if decoded.previous >= record.offset:
                            continue  # sent into a broker that had lost its log
                        sequencer.watermark(tp.partition, decoded.position)
                    else:
                        sequencer.event(tp.partition, record.offset, decoded.position,
                                        decoded.notification)
                if records:
                    next_offsets[tp.partition] = records[-1].offset + 1
            if sequencer.frontier > self._runner.position:
                self._apply(sequencer, next_offsets, epoch)
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > 2.0:
                published = await self._published_epoch()
                if published > epoch:
                    return published
                quiet_since = time.monotonic()
        return None

    async def _published_epoch(self) -> int:
        """The relay's epoch from its tracking row (0 when unknown)."""
        if self._relay_epoch is None:
            return 0
        try:
            return await asyncio.to_thread(self._relay_epoch)
        except Exception as exc:  # the event store unreachable: ask again next time
            log.warning("reading the relay's epoch failed (%r)", exc)
            return 0

    def _apply(self, sequencer: Sequencer, next_offsets: dict[int, int], epoch: int) -> None:
        released = sequencer.release()
        extra = {
            offset_name(self._topic, p): sequencer.resume_offset(p, offset)
            for p, offset in next_offsets.items()
        }
        extra[epoch_name(self._topic)] = epoch
        self._runner.apply([n for _, n in released], sequencer.released, extra)
        self.applied_events += len(released)
