"""`strata worker`: the workers as a faust-streaming app over `strata.events`.

Workers share one consumer group, so the topic's partitions are split between them and
a dead worker's partitions move to the others. Each event goes to the same handlers the
embedded runner calls (garbage collection, replication); the views those handlers read
are the process's own, fed from the topic like an API instance's.

Delivery is at least once. A table (kept in a changelog topic, so it moves with its
partition) holds the last position handled per record key; an event at or below it is
a duplicate and is dropped. A handler that keeps failing has its event sent to the
dead-letter topic `<topic>.dead` and counted; the worker moves on.

faust can skip records around a rebalance: it has committed offsets past records its
agent never saw (measured here: a worker joining mid-stream, and the new owner of a
partition, each lost a few events). So the table also holds, per partition, the next
offset the agent expects. A record past it means a gap: the records in between are read
again straight from the partition and handled first, and counted as recovered.

faust can also stall: a partition it was given delivers nothing while records wait on it
(seen once here for two minutes after a takeover, under load). A timer finds partitions
whose end is past the expected offset and that made no progress for
`worker_stall_seconds`, and reads those records directly too. The table may be written
only from the agent, for the partition of the event at hand, so what was handled that
way is remembered in memory until the agent passes it (a restart before then hands the
events on again: at least once).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import faust
import orjson
from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

from api.exposition import counter, gauge, labelled, metrics_allowed
from domain.envelope import envelope
from infra.kafka import records as kafka
from infra.run.system import System, open_system
from infra.settings import Settings
from workers.delivery import RetryPolicy

log = logging.getLogger("strata.worker")
GROUP = "strata-workers"


@dataclass
class WorkerCounts:
    handled: int = 0
    duplicates: int = 0
    retries: int = 0
    dead_letters: int = 0
    recovered: int = 0
    stalls: int = 0



COUNTED = (
    ("handled", "events the workers handled"),
    ("duplicates", "events dropped as already handled (at-least-once delivery)"),
    ("retries", "handler attempts that failed and were tried again"),
    ("dead_letters", "events sent to the dead-letter topic after their retries"),
    ("recovered", "events faust skipped or stalled on, read from their partition"),
    ("stalls", "times a partition delivered nothing while records waited on it"),
)


class WorkerCollector:
    """The worker's own series, beside its system's: what it handled, the partitions it
    has, and how far behind their ends it is (as of its last look at them)."""

    def __init__(self, counts: WorkerCounts, partitions: Callable[[], int],
                 behind: dict[int, int]) -> None:
        self._counts = counts
        self._partitions = partitions
        self._behind = behind

    def collect(self) -> Iterator[Metric]:
        for name, help_text in COUNTED:
            yield counter(f"strata_worker_{name}_total", help_text, getattr(self._counts, name))
        yield gauge("strata_worker_partitions", "partitions of the event topic this worker "
                    "has", self._partitions())
        yield labelled(GaugeMetricFamily, "strata_worker_kafka_lag_records", "records of a "
                       "partition this worker has that it has yet to handle", ["partition"],
                       (([str(p)], n) for p, n in sorted(self._behind.items())))


def next_offset_key(partition: int) -> bytes:
    """The de-dup table's key for the next offset the agent expects from `partition`
    (no bucket name starts with a NUL byte)."""
    return b"\x00next-offset/%d" % partition


def worker_handlers(system: System) -> list[Callable[[Any], None]]:
    handlers: list[Callable[[Any], None]] = [system.gc.handle]
    if system.replicator is not None:
        handlers.append(system.replicator.handle)
    return handlers


def create_worker_app(
    settings: Settings,
    system: System,
    counts: WorkerCounts,
    metrics_port: int = 0,
    backoff_seconds: float = 0.05,
    handlers: Sequence[Callable[[Any], None]] | None = None,
) -> faust.App:
    """The faust app; built here, from settings, never at import. `handlers`: the
    system's own workers unless given."""
    servers = settings.require_kafka()
    session = max(settings.worker_session_seconds, 3.0)
    app = faust.App(
        GROUP,
        broker=[f"kafka://{server}" for server in kafka.bootstrap(servers)],
        store="memory://",
        datadir=str(settings.data_dir / "faust"),
        topic_partitions=settings.kafka_partitions,
        topic_replication_factor=1,
        broker_session_timeout=session,
        broker_heartbeat_interval=min(1.0, session / 3),
        broker_request_timeout=max(session * 2, 20.0),
        broker_rebalance_timeout=session,
        consumer_auto_offset_reset="earliest",
        # a partition that moves reads its table from the changelog: one recovery path,
        # not the standby-promotion one (which stalled a survivor's new partitions here)
        table_standby_replicas=0,
        # A broker that lost its log (tansu keeps it in memory) has a changelog shorter
        # than what the table read from it; faust's check would end the worker. The
        # table only holds de-dup positions and the relay publishes the log again, so
        # the worker goes on with what it has in memory.
        recovery_consistency_check=False,
        producer_acks=-1,
        producer_linger=0.0,
        # tansu counts a partition's end wrongly after a batch of several records, and
        # the table's recovery reads its changelog to that end
        producer_max_batch_size=1 if settings.kafka_one_record_per_batch else 16384,
        web_enabled=metrics_port > 0,
        web_host=settings.host,
        web_port=metrics_port or 6066,
        web_in_thread=False,
    )
    events = app.topic(settings.kafka_topic, key_serializer="raw", value_serializer="raw",
                       partitions=settings.kafka_partitions)
    dead = app.topic(f"{settings.kafka_topic}.dead", key_serializer="raw",
                     value_serializer="raw", partitions=1)
    handled = app.Table("strata-handled", default=int, key_type=bytes, value_type=int,
                        partitions=settings.kafka_partitions)
    handlers = list(worker_handlers(system) if handlers is None else handlers)
    mapper = system.store.mapper
    read_directly: dict[bytes, int] = {}  # the table's keys, as handled outside the agent
    turns: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)  # per partition
    moved_at: dict[int, float] = {}  # partition -> when it last made progress
    behind: dict[int, int] = {}  # partition -> records past what was handled, last seen

    def handled_up_to(key: bytes) -> int:
        return max(int(handled[key]), read_directly.get(key, 0))

    policy = RetryPolicy(settings.worker_attempts, backoff_seconds)

    async def deliver(event: Any, position: int) -> str | None:
        """None when every handler succeeded; else the last error."""
        loop = asyncio.get_running_loop()

        def retried() -> None:
            counts.retries += 1

        for handler in handlers:
            async def run(event: Any, handler: Any = handler) -> None:
                await loop.run_in_executor(None, handler, event)

            failed = await policy.deliver_async("worker", run, event, position, retried)
            if failed is not None:
                return repr(failed)
        return None

    epochs = {"current": 0, "read_at": 0.0}

    async def stale_epoch(epoch: int) -> bool:
        """Whether a record was sent before the relay found the broker had lost its log:
        the relay's current epoch holds the whole log again, in order."""
        now = time.monotonic()
        if system.relay_epoch is not None and (
                epoch > epochs["current"] or now - epochs["read_at"] > 1.0):
            try:
                epochs["current"] = await asyncio.to_thread(system.relay_epoch)
                epochs["read_at"] = now
            except Exception as exc:  # the event store unreachable: judge by what is known
                log.warning("reading the relay's epoch failed (%r)", exc)
        return epoch < epochs["current"]

    async def process(key: bytes | None, value: bytes | None, headers: Any,
                      partition: int, offset: int, in_agent: bool = True) -> bool:
        """True when the record was an event not handled before, and now is."""
        decoded = kafka.decode(headers, value)
        if decoded is None or decoded.notification is None:
            return False  # a watermark, or not ours
        if await stale_epoch(decoded.epoch):
            counts.duplicates += 1
            return False
        key = key or kafka.GLOBAL_KEY
        done_up_to = handled_up_to(key)
        log.debug("partition %d offset %d: position %d, key %r, handled up to %d",
                  partition, offset, decoded.position, key, done_up_to)
        if decoded.position <= done_up_to:
            counts.duplicates += 1
            return False
        event = mapper.to_domain_event(decoded.notification)
        error = await deliver(event, decoded.position)
        if error is not None:
            counts.dead_letters += 1
            await dead.send(key=key, value=orjson.dumps({
                "error": error, "failed_at": time.time(), "attempts": settings.worker_attempts,
                "event": envelope(event, decoded.position),
            }))
        if in_agent:
            handled[key] = decoded.position
        else:
            read_directly[key] = decoded.position
        counts.handled += 1
        return True

    async def read_again(partition: int, start: int, stop: int, in_agent: bool) -> None:
        """Handle the records at offsets [start, stop), read straight from `partition`."""
        expected_key = next_offset_key(partition)
        for missed in await kafka.read_range(servers, settings.kafka_topic, partition,
                                             start, stop):
            if await process(missed.key, missed.value, missed.headers, partition,
                             missed.offset, in_agent):
                counts.recovered += 1
            if not in_agent:  # the agent moves its expected offset itself
                read_directly[expected_key] = max(read_directly.get(expected_key, 0),
                                                  missed.offset + 1)

    async def fill_gap(partition: int, start: int, stop: int) -> None:
        log.warning("partition %d: offsets %d to %d were not delivered; reading them again",
                    partition, start, stop - 1)
        await read_again(partition, start, stop, in_agent=True)

    async def read_stalled(partition: int, stop: int) -> None:
        start = handled_up_to(next_offset_key(partition))
        if start >= stop:
            return  # the agent got there while this waited its turn
        counts.stalls += 1
        log.warning("partition %d: nothing delivered for %.0f s while offsets %d to %d "
                    "wait; reading them directly", partition, settings.worker_stall_seconds,
                    start, stop - 1)
        await read_again(partition, start, stop, in_agent=False)

    @app.timer(interval=max(settings.worker_stall_seconds / 4, 0.25))  # type: ignore[untyped-decorator]
    async def watch_for_stalls() -> None:
        try:
            await read_stalled_partitions()
        except (KafkaError, OSError, TimeoutError) as exc:  # an exception would end the timer
            log.warning("looking for stalled partitions failed (%r); trying again", exc)

    async def read_stalled_partitions() -> None:
        mine = {tp.partition for tp in app.consumer.assignment()
                if tp.topic == settings.kafka_topic}
        for gone in set(moved_at) - mine:
            del moved_at[gone]
        for gone in set(behind) - mine:
            del behind[gone]
        if not mine:
            return
        ends = await kafka.end_offsets(servers, settings.kafka_topic)
        for partition in mine:
            behind[partition] = max(0, ends.get(partition, 0)
                                    - handled_up_to(next_offset_key(partition)))
        now = time.monotonic()
        for partition in sorted(mine):
            end = ends.get(partition, 0)
            if end <= handled_up_to(next_offset_key(partition)):
                moved_at[partition] = now  # nothing waits
            elif now - moved_at.setdefault(partition, now) >= settings.worker_stall_seconds:
                async with turns[partition]:
                    await read_stalled(partition, end)
                moved_at[partition] = time.monotonic()

    @app.agent(events)
    async def handle(stream: Any) -> None:
        async for record in stream.events():
            partition, offset = record.message.partition, record.message.offset
            async with turns[partition]:
                expected_key = next_offset_key(partition)
                expected = handled_up_to(expected_key)
                if offset > expected:
                    await fill_gap(partition, expected, offset)
                # an offset below the expected one is a record read again, or a refilled
                # topic (the broker lost its log): duplicates are dropped by position
                await process(record.key, record.value, record.headers, partition, offset)
                handled[expected_key] = max(offset + 1, read_directly.get(expected_key, 0))
                moved_at[partition] = time.monotonic()

    if metrics_port:
        worker_registry = CollectorRegistry()
        worker_registry.register(WorkerCollector(counts, lambda: sum(
            1 for tp in app.consumer.assignment() if tp.topic == settings.kafka_topic),
            behind))

        def exposition() -> str:
            return (generate_latest(system.request_metrics.registry)
                    + generate_latest(worker_registry)).decode()

        @app.page("/metrics")
        async def metrics(view: Any, request: Any) -> Any:
            if not metrics_allowed(settings.metrics_token, request.headers.get("authorization")):
                return view.text("/metrics needs 'Authorization: Bearer <STRATA_METRICS_TOKEN>'",
                                 status=401)
            return view.text(await asyncio.to_thread(exposition),
                             content_type="text/plain; version=0.0.4")

    return app


def run_worker(
    settings: Settings,
    metrics_port: int = 0,
    handlers: Callable[[System], Sequence[Callable[[Any], None]]] = worker_handlers,
    on_app: Callable[[faust.App], None] | None = None,
) -> None:
    """Runs until SIGINT or SIGTERM. `on_app` sees the app before it runs (a test's
    fault injection, or a deployment's own agents)."""
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per blob-node request
    system = open_system(settings, "worker")
    system.start()
    counts = WorkerCounts()
    app = create_worker_app(settings, system, counts, metrics_port, handlers=handlers(system))
    if on_app is not None:
        on_app(app)
    print(f"strata worker: group {GROUP} on {settings.kafka}", flush=True)
    try:
        level = {"debug": "debug", "info": "info", "warning": "warn"}.get(settings.log_level,
                                                                          "error")
        worker = faust.Worker(app, loglevel=level, quiet=True)
        worker.execute_from_commandline()
    finally:
        system.close()
        print("strata worker stopped.", flush=True)
