"""The event stream (Server-Sent Events) and the audit trail, over the event log."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from api.auth import admin_principal, bearer_token, principal_from_token, required_principal
from api.blocking import blocking
from api.context import system_of
from api.feed import CommitSignal, one_log, position_before, read_records
from api.native.access import allow
from api.native.common import int_param, json_response
from api.native.errors import MalformedRequest
from api.native.history import ActorNames, instant_param, may_read_details
from api.numbers import whole_number
from api.system import System
from domain.access import Action, Principal
from domain.application import BucketInfo
from domain.envelope import EventFilter, listing_view
from domain.errors import AccessDenied, StrataError
from projections.incarnations import incarnation_start

HEARTBEAT_SECONDS = 15.0
RECHECK_SECONDS = 5.0  # how long a stream goes on before its caller's rights are checked again
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
    position = whole_number(raw)
    if position is None:
        raise MalformedRequest(f"{name} must be a log position (a whole number), not {raw[:40]!r}")
    return position


@dataclass(frozen=True)
class FeedRights:
    """What one caller may read of the log: from `after` on, every record in full, or
    (`bucket` set) that bucket's records, each in full only where the caller may read
    the object, else as a listing shows it."""

    after: int  # records at or before this position are not the caller's to see
    bucket: BucketInfo | None = None


async def _feed_rights(system: System, principal: Principal, wanted: EventFilter) -> FeedRights:
    """Administrators read everything; others one bucket they may list, and only its
    current incarnation: a bucket name once deleted may have had another owner."""
    if principal.is_admin:
        return FeedRights(0)
    if wanted.bucket is None:
        raise AccessDenied(
            "Only an administrator may read every bucket's events; add ?bucket=<name>",
            actor=principal.access_key, user=principal.user,
        )
    info = await blocking(system.store.get_bucket, wanted.bucket)
    allow(None, principal, Action.LIST_BUCKET, info)
    await blocking(system.runner.wait_for, await blocking(system.store.current_position))
    return FeedRights(incarnation_start(system.views, wanted.bucket) - 1, info)


def _shown(
    system: System, principal: Principal, rights: FeedRights, records: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Blocking: each record as the caller may see it."""
    if rights.bucket is None:
        return records
    readable: dict[str | None, bool] = {}
    shown = []
    for record in records:
        key = record["key"]
        if key not in readable:
            readable[key] = may_read_details(system, principal, rights.bucket, key)
        shown.append(record if readable[key] else listing_view(record))
    return shown


async def stream(request: Request) -> Response:
    """GET /events: SSE from `after` (or Last-Event-ID; default: from now on). Each
    message's id is its log position, so a reconnecting client resumes exactly. The
    caller's token and rights are checked again every few seconds and at the token's
    expiry: a caller who lost them gets a final `error` event and the stream ends."""
    principal = required_principal(request)
    token = bearer_token(request) or ""
    wanted = _filter(request)
    system = system_of(request)
    one_log(system.store)  # refused before the stream opens, not as its first event
    rights = await _feed_rights(system, principal, wanted)
    after = _position(request.headers.get("last-event-id"), "Last-Event-ID")
    if after is None:
        after = _position(request.query_params.get("after"), "after")
    start: int = after if after is not None else await blocking(system.store.current_position)
    follow = request.query_params.get("follow", "true").lower() not in ("false", "0", "no")
    signal: CommitSignal = request.app.state.commit_signal

    async def recheck() -> FeedRights:
        again = await blocking(principal_from_token, system, token)
        return await _feed_rights(system, again, wanted)

    return StreamingResponse(
        _messages(system, signal, principal, max(start, rights.after), rights, wanted, follow,
                  recheck),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )


async def _messages(
    system: System, signal: CommitSignal, principal: Principal, after: int, rights: FeedRights,
    wanted: EventFilter, follow: bool, recheck: Callable[[], Awaitable[FeedRights]],
) -> AsyncIterator[bytes]:
    woken = signal.subscribe()
    names = ActorNames(system.store)
    quiet = 0.0
    checked = time.monotonic()
    try:
        while True:
            if time.monotonic() - checked >= RECHECK_SECONDS:
                try:
                    again = await recheck()
                except StrataError as lost:
                    yield _final_error(lost)
                    return
                if again.after > rights.after:  # the bucket was deleted and made anew
                    yield _final_error(AccessDenied("The bucket was deleted"))
                    return
                rights, checked = again, time.monotonic()
            woken.clear()  # before reading, so a commit during the read is not missed
            records, reached = await blocking(
                read_records, system.store, after, wanted, 500, 5000
            )
            records = await blocking(_shown, system, principal, rights, names.fill(records))
            for record in records:
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


def _final_error(error: StrataError) -> bytes:
    body = {"error": type(error).__name__, "message": str(error)}
    return b"event: error\ndata: %s\n\n" % orjson.dumps(body)


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
