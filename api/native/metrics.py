"""GET /metrics: Prometheus text exposition of what an operator watches.

Open like /healthz: it says how far behind things are, never what is stored.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping
from datetime import UTC, datetime

from prometheus_client import generate_latest
from starlette.requests import Request
from starlette.responses import Response

from api.auth import Unauthorized
from api.blocking import blocking
from api.context import system_of
from api.system import System


def _gauge(lines: list[str], name: str, help_text: str, value: float, kind: str = "gauge"
           ) -> None:
    lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", f"{name} {value:g}"]


def _labelled(lines: list[str], name: str, help_text: str, label: str,
              values: Mapping[str, float], kind: str = "gauge") -> None:
    lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    lines += [f'{name}{{{label}="{key}"}} {value:g}' for key, value in values.items()]


def views_gauges(system: System) -> list[str]:
    """How far this process's views are, against the store's log: every role has them."""
    lines: list[str] = []
    head = system.store.current_position()
    _gauge(lines, "strata_log_position", "newest position in the event store's log", head)
    _gauge(lines, "strata_views_position", "log position this process's views are complete "
           "up to", system.runner.position)
    _gauge(lines, "strata_views_lag_events", "events committed but not yet in this process's "
           "views", max(0, head - system.runner.position))
    return lines


GEO_METRICS = {  # SiteMetrics field: (metric, help, kind)
    "lag_events": ("strata_geo_lag_events", "events in this site's log not yet sent to a "
                   "site", "gauge"),
    "lag_seconds": ("strata_geo_lag_seconds", "age of the oldest event not yet sent to a "
                    "site", "gauge"),
    "up": ("strata_geo_site_up", "1 when a site answers, 0 while replication to it waits "
           "and retries", "gauge"),
    "applied": ("strata_geo_changes_applied_total", "changes a site recorded", "counter"),
    "failed": ("strata_geo_changes_failed_total", "changes a site refused (dead letters)",
               "counter"),
    "bytes_sent": ("strata_geo_bytes_sent_total", "chunk bytes sent to a site", "counter"),
    "chunks_skipped": ("strata_geo_chunks_skipped_total", "chunks not sent because the site "
                       "had them", "counter"),
}


def geo_gauges(sites: Mapping[str, Mapping[str, float]]) -> list[str]:
    lines: list[str] = []
    for field, (name, help_text, kind) in GEO_METRICS.items():
        _labelled(lines, name, help_text, "site",
                  {site: values[field] for site, values in sites.items()}, kind)
    return lines


def render(system: System) -> str:
    lines = views_gauges(system)
    head = system.store.current_position()
    if system.relay_lag is not None:
        events, seconds = system.relay_lag(time.time())
        _gauge(lines, "strata_relay_lag_events", "events in the store not yet acknowledged by "
               "Kafka", events)
        _gauge(lines, "strata_relay_lag_seconds", "age of the oldest event not yet acknowledged "
               "by Kafka", seconds)
    if system.feed is not None and system.feed.sequencer is not None:
        _gauge(lines, "strata_feed_held_events", "events read from Kafka, waiting for the "
               "other partitions to catch up", system.feed.sequencer.held)
        _gauge(lines, "strata_feed_duplicates_total", "events read from Kafka again and "
               "dropped", system.feed.sequencer.duplicates, "counter")
    if system.geo is not None:
        lines += geo_gauges(system.geo.site_metrics(datetime.now(UTC)))
    if system.role == "api":
        return "\n".join(lines) + "\n"  # the workers run in `strata worker`, with /metrics
    followers = [f for f in (system.gc_follower, system.replication_follower) if f is not None]
    if system.role == "embedded":  # a `strata worker` follows Kafka, not this log
        positions = {f.name.removeprefix("worker:"): f.position for f in followers}
        _labelled(lines, "strata_worker_position", "log position a worker has handled every "
                  "event up to", "worker", positions)
        _labelled(lines, "strata_worker_lag_events", "events committed but not yet handled by "
                  "a worker", "worker", {k: max(0, head - v) for k, v in positions.items()})
    _gauge(lines, "strata_worker_dead_letters_total", "events a worker gave up on after its "
           "retries", sum(f.dead_letters for f in followers), "counter")
    _gauge(lines, "strata_gc_sweeps_total", "garbage-collection sweeps", system.gc.sweeps,
           "counter")
    _gauge(lines, "strata_gc_chunks_collected_total", "chunks garbage-collected",
           system.gc.chunks_collected, "counter")
    _gauge(lines, "strata_gc_chunks_refused", "unreferenced chunks object lock kept from "
           "collection at the last sweep (a locked version was removed: report it)",
           system.gc.chunks_refused)
    totals = system.lifecycle.totals
    _gauge(lines, "strata_lifecycle_passes_total", "lifecycle passes over the buckets",
           system.lifecycle.passes, "counter")
    _labelled(lines, "strata_lifecycle_actions_total", "what lifecycle rules did", "action",
              {"expired": totals.expired, "noncurrent_removed": totals.noncurrent_removed,
               "markers_removed": totals.markers_removed,
               "uploads_aborted": totals.uploads_aborted}, "counter")
    _gauge(lines, "strata_lifecycle_held_total", "removals lifecycle rules asked for that "
           "object lock refused", totals.held, "counter")
    if system.replicator is not None:
        stats = system.replicator.stats
        _gauge(lines, "strata_replication_copies_made_total", "replicas copied to bring "
               "chunks to their placement", stats.copies_made, "counter")
        _gauge(lines, "strata_chunks_under_replicated", "chunks with fewer healthy replicas "
               "than wanted, at the last full pass", stats.under_replicated)
    return "\n".join(lines) + "\n"


def metrics_allowed(token: str, authorization: str | None) -> bool:
    """Open unless STRATA_METRICS_TOKEN is set; then only with that bearer token."""
    if not token:
        return True
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                              token.encode())


async def metrics(request: Request) -> Response:
    system = system_of(request)
    if not metrics_allowed(system.settings.metrics_token, request.headers.get("authorization")):
        raise Unauthorized("/metrics needs 'Authorization: Bearer <STRATA_METRICS_TOKEN>'")
    text = await blocking(render, system)
    text += generate_latest(system.request_metrics.registry).decode()
    return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8")
