"""`strata relay`: the relay of infra/kafka/relay.py run as a process, with its own
/metrics (how far it has published the log) when given a port."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric

from api.exposition import counter, gauge, metrics_page
from domain.application import ObjectStore
from infra.kafka.relay import Relay, lag_behind, log_head, open_tracking
from infra.kafka.relay_tracking import PostgresRelayTracking, SQLiteRelayTracking
from infra.settings import Settings


class RelayCollector:
    """The relay's series, read at each scrape: how far it has published the log."""

    def __init__(self, relay: Relay, store: ObjectStore) -> None:
        self._relay = relay
        self._store = store

    def collect(self) -> Iterator[Metric]:
        relay = self._relay
        head = log_head(self._store)
        events, seconds = lag_behind(self._store, relay.place.position, head, time.time())
        yield gauge("strata_log_position", "newest position in the event store's log", head)
        yield gauge("strata_relay_position", "log position the relay has published and "
                    "Kafka acknowledged up to", relay.place.position)
        yield gauge("strata_relay_lag_events", "events in the store not yet acknowledged "
                    "by Kafka", events)
        yield gauge("strata_relay_lag_seconds", "age of the oldest event not yet "
                    "acknowledged by Kafka", seconds)
        yield counter("strata_relay_records_published_total", "records Kafka acknowledged "
                      "(events and watermarks)", relay.published)
        yield counter("strata_relay_republished_total", "times the broker lost records and "
                      "the whole log was published again", relay.republished)
        yield gauge("strata_relay_partitions", "partitions of the event topic",
                    relay.partitions)


def _metrics_server(settings: Settings, port: int, registry: CollectorRegistry) -> Any:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import Route

    app = Starlette(routes=[Route("/metrics", metrics_page(registry, settings.metrics_token),
                                  methods=["GET"])])
    return uvicorn.Server(uvicorn.Config(app, host=settings.host, port=port,
                                         log_level="warning", lifespan="off"))


def run_relay(settings: Settings, metrics_port: int = 0) -> None:
    """`strata relay`: runs until SIGINT or SIGTERM; `metrics_port`: where it serves
    /metrics (none when 0)."""
    import signal

    from infra.eventstore.gates import LocalBucketGate
    from infra.eventstore.postgres import prepared_store_env, retrying_connections, schema_lock

    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(levelname)s %(name)s: %(message)s")
    servers = settings.require_kafka()
    settings.data_dir.mkdir(parents=True, exist_ok=True)

    def connect() -> tuple[ObjectStore, SQLiteRelayTracking | PostgresRelayTracking]:
        env = prepared_store_env(settings)
        with schema_lock(settings):
            return ObjectStore(env, LocalBucketGate()), open_tracking(settings)

    store, tracking = retrying_connections(settings, connect)
    relay = Relay(store, tracking, servers, settings.kafka_topic, settings.kafka_partitions,
                  settings.relay_poll_seconds)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        print(f"strata relay: {settings.kafka_topic} on {servers}, from position "
              f"{relay.place.position}", flush=True)
        if not metrics_port:
            await relay.run(stop)
            return
        registry = CollectorRegistry()
        registry.register(RelayCollector(relay, store))
        server = _metrics_server(settings, metrics_port, registry)
        serving = asyncio.create_task(server.serve())
        try:
            await relay.run(stop)
        finally:
            server.should_exit = True
            await serving

    try:
        asyncio.run(main())
    finally:
        tracking.close()
        store.close()
        print("strata relay stopped.", flush=True)
