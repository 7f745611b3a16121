"""Request metrics of both doors (issue 26), kept by `prometheus_client` in a registry
of the process's own: counts by door, operation, status class and error code; latency
histograms by operation; bytes in and out; requests in flight; refusals by reason.

Operations are S3's names on the S3 door and route handlers' names on the native door:
a bounded set, so the series stay few whatever clients send.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                   10.0, 30.0, 60.0)


ACCESS_LOG = logging.getLogger("strata.access")


class RequestMetrics:
    def __init__(self, registry: CollectorRegistry | None = None,
                 json_log: bool = False) -> None:
        """`json_log`: also write one JSON line per request to the `strata.access` logger
        (at info: operators turn it down with that logger's level)."""
        self.registry = registry or CollectorRegistry()
        self.json_log = json_log
        self.requests = Counter(
            "strata_requests", "requests answered, by door, operation, status class and "
            "error code", ["door", "operation", "status", "code"], registry=self.registry)
        self.latency = Histogram(
            "strata_request_duration_seconds", "time to answer a request, by door and "
            "operation (the head of a streamed answer)", ["door", "operation"],
            buckets=LATENCY_BUCKETS, registry=self.registry)
        self.bytes_in = Counter("strata_request_bytes_in", "request body bytes received",
                                ["door"], registry=self.registry)
        self.bytes_out = Counter("strata_request_bytes_out", "response body bytes sent",
                                 ["door"], registry=self.registry)
        self.in_flight = Gauge("strata_requests_in_flight", "requests being answered",
                               ["door"], registry=self.registry)
        self.refused = Counter("strata_requests_refused", "requests refused (401, 403, "
                               "429), by reason", ["door", "reason"], registry=self.registry)

        # labelled children, looked up once: every request counts, so each saves a few µs
        self._answers: dict[tuple[str, str, int, str], tuple[Any, Any]] = {}
        self._doors: dict[str, tuple[Any, Any, Any]] = {}

    def _door(self, door: str) -> tuple[Any, Any, Any]:
        found = self._doors.get(door)
        if found is None:
            found = self._doors[door] = (self.in_flight.labels(door),
                                         self.bytes_in.labels(door),
                                         self.bytes_out.labels(door))
        return found

    def started(self, door: str) -> float:
        self._door(door)[0].inc()
        return time.perf_counter()

    def answered(self, door: str, operation: str, status: int, code: str, started: float,
                 bytes_in: int, bytes_out: int, state: dict[str, Any] | None = None) -> None:
        in_flight, received, sent = self._door(door)
        in_flight.dec()
        found = self._answers.get((door, operation, status, code))
        if found is None:
            found = self._answers[(door, operation, status, code)] = (
                self.requests.labels(door, operation, f"{status // 100}xx", code),
                self.latency.labels(door, operation))
        found[0].inc()
        found[1].observe(time.perf_counter() - started)
        if bytes_in:
            received.inc(bytes_in)
        if bytes_out:
            sent.inc(bytes_out)
        if status in (401, 403, 429):
            self.refused.labels(door, code or str(status)).inc()
        if self.json_log and ACCESS_LOG.isEnabledFor(logging.INFO):
            state = state or {}
            ACCESS_LOG.info(orjson.dumps({
                "request_id": state.get("request_id", ""), "door": door,
                "operation": operation, "bucket": state.get("bucket", ""), "status": status,
                "code": code, "bytes_in": bytes_in, "bytes_out": bytes_out,
                "seconds": round(time.perf_counter() - started, 6),
                "caller": state.get("actor", "anonymous")}).decode())


class NativeRequestMetrics:
    """ASGI middleware of the native door (and a blob node's, `door="node"`): each
    request counted under the name of the route's handler (the router leaves it in the
    scope)."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics, door: str = "native") -> None:
        self.app = app
        self.metrics = metrics
        self.door = door

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = self.metrics.started(self.door)
        status, sent = 500, 0

        async def counting(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counting)
        finally:
            endpoint = scope.get("endpoint")
            operation = getattr(endpoint, "__name__", "unrouted")
            received = _content_length(scope)
            state = dict(scope.get("state") or {})
            state.setdefault("bucket", (scope.get("path_params") or {}).get("bucket", ""))
            self.metrics.answered(self.door, operation, status, "", started, received, sent,
                                  state)


def _content_length(scope: Scope) -> int:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() and len(value) < 19 else 0
    return 0
