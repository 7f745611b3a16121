"""The Prometheus text format's small parts every process's /metrics page uses: metric
families built at scrape time, the bearer-token check, and a page for a registry.

Light on purpose: a blob node and the relay import it, and start in a fraction of a
second."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable, Iterable

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from starlette.requests import Request
from starlette.responses import Response

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def gauge(name: str, help_text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, help_text, value=value)


def counter(name: str, help_text: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, help_text, value=value)


def labelled(family: type[GaugeMetricFamily | CounterMetricFamily], name: str,
             help_text: str, labels: list[str],
             values: Iterable[tuple[list[str], float]]) -> Metric:
    metric = family(name, help_text, labels=labels)
    for label_values, value in values:
        metric.add_metric(label_values, value)
    return metric


def metrics_allowed(token: str, authorization: str | None) -> bool:
    """Open unless STRATA_METRICS_TOKEN is set; then only with that bearer token."""
    if not token:
        return True
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                              token.encode())


def metrics_page(registry: CollectorRegistry, token: str
                 ) -> Callable[[Request], Awaitable[Response]]:
    """A /metrics endpoint of a process that is not a door (a blob node, the relay)."""
    async def page(request: Request) -> Response:
        if not metrics_allowed(token, request.headers.get("authorization")):
            return Response(b"/metrics needs 'Authorization: Bearer <STRATA_METRICS_TOKEN>'",
                            401, media_type="text/plain")
        return Response(await asyncio.to_thread(generate_latest, registry),
                        media_type=CONTENT_TYPE)
    return page
