"""GET /metrics: what an operator watches, in Prometheus's text format.

Open like /healthz: it says how far behind things are and how much is stored, never
what. Every series comes from `prometheus_client`: the request metrics it keeps, and
the collectors below, which read the process's system at scrape time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime

from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from starlette.requests import Request
from starlette.responses import Response

from api.auth import Unauthorized
from api.blocking import blocking
from api.context import system_of
from api.exposition import CONTENT_TYPE, counter, gauge, labelled, metrics_allowed
from api.system import Follower, System, nodes_of
from projections.base import ViewReader
from projections.buckets import list_buckets
from projections.object_listing import bucket_stats
from projections.runner import home_position


def views_families(system: System, heads: int | Sequence[int]) -> list[Metric]:
    """How far this process's views are, against the store's log (its head, or each
    cell's): every role has them."""
    return [
        gauge("strata_log_position", "newest position in the event store's (home cell's) "
              "log", home_position(heads)),
        gauge("strata_views_position", "log position this process's views are complete "
              "up to", system.runner.position),
        gauge("strata_views_lag_events", "events committed but not yet in this process's "
              "views", system.runner.behind(heads)),
    ]


GEO_METRICS = {  # SiteMetrics field: (metric, help, family)
    "lag_events": ("strata_geo_lag_events", "events in this site's log not yet sent to a "
                   "site", GaugeMetricFamily),
    "lag_seconds": ("strata_geo_lag_seconds", "age of the oldest event not yet sent to a "
                    "site", GaugeMetricFamily),
    "up": ("strata_geo_site_up", "1 when a site answers, 0 while replication to it waits "
           "and retries", GaugeMetricFamily),
    "applied": ("strata_geo_changes_applied_total", "changes a site recorded",
                CounterMetricFamily),
    "failed": ("strata_geo_changes_failed_total", "changes a site refused (dead letters)",
               CounterMetricFamily),
    "bytes_sent": ("strata_geo_bytes_sent_total", "chunk bytes sent to a site",
                   CounterMetricFamily),
    "chunks_skipped": ("strata_geo_chunks_skipped_total", "chunks not sent because the "
                       "site had them", CounterMetricFamily),
}


def geo_families(sites: Mapping[str, Mapping[str, float]]) -> list[Metric]:
    return [labelled(family, name, help_text, ["site"],
                     (([site], values[field]) for site, values in sites.items()))
            for field, (name, help_text, family) in GEO_METRICS.items()]


def _log_families(system: System) -> Iterator[Metric]:
    if system.relay_lag is not None:
        events, seconds = system.relay_lag(time.time())
        yield gauge("strata_relay_lag_events", "events in the store not yet acknowledged "
                    "by Kafka", events)
        yield gauge("strata_relay_lag_seconds", "age of the oldest event not yet "
                    "acknowledged by Kafka", seconds)
    if system.feed is not None and system.feed.sequencer is not None:
        yield gauge("strata_feed_held_events", "events read from Kafka, waiting for the "
                    "other partitions to catch up", system.feed.sequencer.held)
        yield counter("strata_feed_duplicates_total", "events read from Kafka again and "
                      "dropped", system.feed.sequencer.duplicates)


def _node_families(system: System) -> Iterator[Metric]:
    """The blob nodes as this process sees them (their own /metrics say their capacity
    and chunks): up or down, and the bad copies readers found, waiting for repair."""
    nodes = nodes_of(system)
    if nodes is None:
        return
    members = nodes.members()
    yield labelled(GaugeMetricFamily, "strata_node_up", "1 while a blob node answers "
                   "this process's probes, 0 once it has been silent too long",
                   ["node", "zone"],
                   (([m.client.ref.node_id, m.client.ref.zone], 0.0 if m.down else 1.0)
                    for m in members))
    yield gauge("strata_nodes", "blob nodes in the membership", len(members))
    yield gauge("strata_replicas_awaiting_repair", "replicas readers found missing or "
                "bad, not yet taken by the repairer", len(nodes.repairs.found))


def log_followers(system: System) -> dict[str, Follower]:
    """The workers that follow this process's log, by name: the embedded store's (a
    `strata worker` follows Kafka, and API instances run none)."""
    if system.role != "embedded":
        return {}
    return {f.name.removeprefix("worker:"): f
            for f in (system.gc_follower, system.replication_follower) if f is not None}


def _worker_families(system: System, head: int) -> Iterator[Metric]:
    followers = log_followers(system)
    if followers:
        positions = {name: f.position for name, f in followers.items()}
        yield labelled(GaugeMetricFamily, "strata_worker_position", "log position a worker "
                       "has handled every event up to", ["worker"],
                       (([name], at) for name, at in positions.items()))
        yield labelled(GaugeMetricFamily, "strata_worker_lag_events", "events committed "
                       "but not yet handled by a worker", ["worker"],
                       (([name], max(0, head - at)) for name, at in positions.items()))
        yield counter("strata_worker_dead_letters_total", "events a worker gave up on "
                      "after its retries", sum(f.dead_letters for f in followers.values()))
    yield counter("strata_gc_sweeps_total", "garbage-collection sweeps", system.gc.sweeps)
    yield counter("strata_gc_chunks_collected_total", "chunks garbage-collected",
                  system.gc.chunks_collected)
    yield counter("strata_gc_bytes_collected_total", "bytes garbage-collected",
                  system.gc.bytes_collected)
    seen = system.gc.last_sweep
    if system.gc.sweeps:  # what a sweep saw of the chunk store (it walks it all)
        yield gauge("strata_chunks_referenced", "chunks stored that versions or parts "
                    "reference, at the last GC sweep", seen.referenced)
        yield gauge("strata_chunks_referenced_bytes", "bytes of those chunks (one copy "
                    "each: what deduplication leaves to store)", seen.referenced_bytes)
        yield gauge("strata_gc_backlog_chunks", "unreferenced chunks waiting out their "
                    "grace, at the last GC sweep", seen.in_grace)
        yield gauge("strata_gc_backlog_bytes", "bytes of those chunks", seen.in_grace_bytes)
    yield gauge("strata_gc_chunks_refused", "unreferenced chunks object lock kept from "
                "collection at the last sweep (a locked version was removed: report it)",
                system.gc.chunks_refused)
    totals = system.lifecycle.totals
    yield counter("strata_lifecycle_passes_total", "lifecycle passes over the buckets",
                  system.lifecycle.passes)
    yield labelled(CounterMetricFamily, "strata_lifecycle_actions_total", "what lifecycle "
                   "rules did", ["action"],
                   [(["expired"], totals.expired),
                    (["noncurrent_removed"], totals.noncurrent_removed),
                    (["markers_removed"], totals.markers_removed),
                    (["uploads_aborted"], totals.uploads_aborted)])
    yield counter("strata_lifecycle_held_total", "removals lifecycle rules asked for that "
                  "object lock refused", totals.held)
    if system.replicator is not None:
        yield from durability_families(system)


def durability_families(system: System) -> Iterator[Metric]:
    assert system.replicator is not None
    stats = system.replicator.stats
    yield counter("strata_replication_copies_made_total", "replicas copied to bring "
                  "chunks to their placement (repairs included)", stats.copies_made)
    yield counter("strata_replication_misplaced_removed_total", "replicas removed from "
                  "nodes outside a chunk's placement", stats.misplaced_removed)
    yield gauge("strata_chunks_under_replicated", "chunks with fewer healthy replicas "
                "than wanted, at the last full pass", stats.under_replicated)
    yield gauge("strata_replication_last_full_pass_timestamp_seconds", "when the last "
                "full replication pass ended (0: none yet)", stats.last_full_pass)
    yield counter("strata_scrub_replicas_checked_total", "replicas the scrubber read and "
                  "verified", stats.replicas_scrubbed)
    yield labelled(CounterMetricFamily, "strata_scrub_bad_replicas_total", "replicas the "
                   "scrubber found bad, by what was wrong", ["problem"],
                   [(["corrupt"], stats.corrupt_found), (["missing"], stats.missing_found)])


def system_families(system: System) -> Iterator[Metric]:
    heads = system.store.current_position()  # once a scrape: in a cluster, a query
    head = home_position(heads)
    yield from views_families(system, heads)
    yield from _log_families(system)
    if system.geo is not None:
        yield from geo_families(system.geo.site_metrics(datetime.now(UTC)))
    yield from _node_families(system)
    if system.role != "api":  # API instances leave the workers to `strata worker`
        yield from _worker_families(system, head)


TOP_BUCKETS = 10  # buckets named in the storage series; the rest are in the totals only


class StorageCollector:
    """Objects and bytes stored, from the listing view's per-bucket counts at scrape
    time: the largest TOP_BUCKETS buckets by name (bounded cardinality) and the totals."""

    def __init__(self, views: ViewReader) -> None:
        self._views = views

    def collect(self) -> Iterator[GaugeMetricFamily]:
        stats = [(record.name, bucket_stats(self._views, record.name))
                 for record in list_buckets(self._views)]
        largest = sorted(stats, key=lambda found: found[1].version_bytes, reverse=True)
        objects = GaugeMetricFamily("strata_bucket_objects", "current objects of the largest "
                                    "buckets", labels=["bucket"])
        stored = GaugeMetricFamily("strata_bucket_bytes", "bytes of all versions of the "
                                   "largest buckets", labels=["bucket"])
        for name, found in largest[:TOP_BUCKETS]:
            objects.add_metric([name], found.objects)
            stored.add_metric([name], found.version_bytes)
        yield objects
        yield stored
        yield GaugeMetricFamily("strata_store_buckets", "buckets", value=len(stats))
        yield GaugeMetricFamily("strata_store_objects", "current objects of every bucket",
                                value=sum(found.objects for _, found in stats))
        yield GaugeMetricFamily("strata_store_versions", "versions and delete markers of "
                                "every bucket", value=sum(found.versions for _, found in stats))
        yield GaugeMetricFamily("strata_store_bytes", "bytes of every version of every bucket",
                                value=sum(found.version_bytes for _, found in stats))


class SystemCollector:
    """The process's system read at each scrape (a `prometheus_client` collector)."""

    def __init__(self, system: System) -> None:
        self._system = system

    def collect(self) -> Iterator[Metric]:
        return system_families(self._system)


def render(system: System) -> str:
    """Every series of the process: its request metrics and what its system says."""
    return generate_latest(system.request_metrics.registry).decode()


async def metrics(request: Request) -> Response:
    system = system_of(request)
    if not metrics_allowed(system.settings.metrics_token, request.headers.get("authorization")):
        raise Unauthorized("/metrics needs 'Authorization: Bearer <STRATA_METRICS_TOKEN>'")
    return Response(await blocking(render, system), media_type=CONTENT_TYPE)
