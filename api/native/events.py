"""The event stream (Server-Sent Events) and the audit trail, over the event log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from api.auth import admin_principal, required_principal
from api.blocking import blocking
from api.context import system_of
from api.feed import CommitSignal, position_before, read_records
from api.native.common import int_param, json_response
from api.native.errors import MalformedRequest
from api.native.history import ActorNames, instant_param
from domain.access import Action, Principal, authorize
from domain.envelope import EventFilter
from domain.errors import AccessDenied

HEARTBEAT_SECONDS = 15.0
POLL_SECONDS = 1.0  # for commits made by other processes, which send no signal
AUDIT_SCAN_LIMIT = 20_000  # events one audit page reads at most before it answers


def _filter(request: Request) -> EventFilter:
    q = request.query_params
    types = tuple(t.strip() for t in q.get("type", "").split(",") if t.strip())
    return EventFilter(
        bucket=q.get("bucket") or None,
        prefix=q.get("prefix", ""),
        types=types,
        actor=q.get("actor") or None,
        since=instant_param(request, "since"),
        until=instant_param(request, "until"),
    )


def _position(raw: str | None, name: str) -> int | None:
    if raw is None or raw == "":
        return None
    if not raw.isdigit():
        raise MalformedRequest(f"{name} must be a log position (a whole number), not {raw!r}")
    return int(raw)


async def _authorize_feed(request: Request, principal: Principal, wanted: EventFilter) -> None:
    """Administrators read everything; others one bucket they may list."""
    if principal.is_admin:
        return
    if wanted.bucket is None:
        raise AccessDenied(
            "Only an administrator may read every bucket's events; add ?bucket=<name>",
            actor=principal.access_key, user=principal.user,
        )
    info = await blocking(system_of(request).store.get_bucket, wanted.bucket)
    authorize(principal, Action.LIST_BUCKET, info.acl)


async def stream(request: Request) -> Response:
    """GET /events: SSE from `after` (or Last-Event-ID; default: from now on). Each
    message's id is its log position, so a reconnecting client resumes exactly."""
    principal = required_principal(request)
    wanted = _filter(request)
    await _authorize_feed(request, principal, wanted)
    system = system_of(request)
    after = _position(request.headers.get("last-event-id"), "Last-Event-ID")
    if after is None:
        after = _position(request.query_params.get("after"), "after")
    start: int = after if after is not None else await blocking(system.store.current_position)
    follow = request.query_params.get("follow", "true").lower() not in ("false", "0", "no")
    signal: CommitSignal = request.app.state.commit_signal
    return StreamingResponse(
        _messages(system, signal, start, wanted, follow),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )


async def _messages(
    system: Any, signal: CommitSignal, after: int, wanted: EventFilter, follow: bool
) -> AsyncIterator[bytes]:
    woken = signal.subscribe()
    names = ActorNames(system.store)
    quiet = 0.0
    try:
        while True:
            woken.clear()  # before reading, so a commit during the read is not missed
            records, reached = await blocking(
                read_records, system.store, after, wanted, 500, 5000
            )
            for record in names.fill(records):
                yield b"id: %d\ndata: %s\n\n" % (record["position"], orjson.dumps(record))
            if reached > after:  # more may follow at once, matching or not
                after, quiet = reached, 0.0
                continue
            if not follow and after >= await blocking(system.store.current_position):
                return
            try:
                await asyncio.wait_for(woken.wait(), POLL_SECONDS)
            except TimeoutError:
                quiet += POLL_SECONDS
                if quiet >= HEARTBEAT_SECONDS:
                    quiet = 0.0
                    yield b": keep-alive\n\n"
    finally:
        signal.unsubscribe(woken)


async def audit(request: Request) -> Response:
    """GET /audit: who changed what and when, filtered, paged by log position."""
    admin_principal(request, "read the audit trail")
    system = system_of(request)
    wanted = _filter(request)
    limit = int_param(request, "limit", 100, 1, 1000)
    after = _position(request.query_params.get("after"), "after")
    if after is None:
        after = 0 if wanted.since is None else await blocking(
            position_before, system.store, wanted.since
        )
    records, reached = await blocking(
        read_records, system.store, after, wanted, limit, AUDIT_SCAN_LIMIT
    )
    ActorNames(system.store).fill(records)
    newest = await blocking(system.store.current_position)
    return json_response(
        {"events": records, "next_after": reached if reached < newest else None}
    )


async def denied(request: Request) -> Response:
    """GET /audit/denied: refused requests, newest last, with the same filters."""
    admin_principal(request, "read the access log")
    wanted = _filter(request)
    limit = int_param(request, "limit", 100, 1, 1000)
    entries = [e for e in system_of(request).denied.entries() if wanted.matches(e)]
    return json_response({"denied": entries[-limit:]})
