"""Inventory endpoints: rows as JSON lines, an export into a bucket, the daily schedule."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from datetime import datetime

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from api.auth import optional_principal, required_principal
from api.blocking import blocking, iterate_blocking
from api.context import request_meta, system_of
from api.native.access import allow
from api.native.common import json_body, json_response, now, text_field
from api.native.errors import MalformedRequest
from api.native.history import instant_param
from api.system import System
from domain.access import Action, controls_bucket
from domain.records import InventoryConfig
from projections.inventory import inventory_rows

LINES_PER_PIECE = 1000


def _json_lines(
    system: System, bucket: str, moment: datetime | None, current: bool, detailed: bool
) -> Iterator[bytes]:
    system.runner.wait_for(system.store.current_position())
    lines: list[bytes] = []
    for row in inventory_rows(system.views, bucket, moment, current):
        if not detailed:
            # A whole object's SHA-256 is its chunk's digest when it has one chunk:
            # only readers of the bucket's data see it.
            del row["checksum"]
        lines.append(orjson.dumps(row))
        if len(lines) == LINES_PER_PIECE:
            yield b"\n".join(lines) + b"\n"
            lines.clear()
    if lines:
        yield b"\n".join(lines) + b"\n"


async def rows(request: Request) -> Response:
    """GET /buckets/{b}/inventory: one JSON object a line, in key order, streamed."""
    system = system_of(request)
    bucket = request.path_params["bucket"]
    principal = optional_principal(request)
    info = await blocking(system.store.get_bucket, bucket)
    allow(request, principal, Action.LIST_BUCKET, info)
    moment = instant_param(request)
    current = request.query_params.get("current_only", "").lower() in ("true", "1", "yes")
    detailed = controls_bucket(principal, info.acl)
    pieces = _json_lines(system, bucket, moment, current, detailed)
    return StreamingResponse(iterate_blocking(pieces), media_type="application/x-ndjson")


async def export(request: Request) -> Response:
    """POST /buckets/{b}/inventory?to_bucket=B[&key=K][&as_of=T]: a Parquet inventory
    written into bucket B."""
    principal = required_principal(request)
    system = system_of(request)
    bucket = request.path_params["bucket"]
    destination = request.query_params.get("to_bucket")
    if not destination:
        raise MalformedRequest("Name the bucket to write the inventory into with ?to_bucket=")
    moment = instant_param(request)
    source = await blocking(system.store.get_bucket, bucket)
    allow(request, principal, Action.LIST_BUCKET, source)
    target = await blocking(system.store.get_bucket, destination)
    allow(request, principal, Action.WRITE_OBJECTS, target)
    stamp = (moment or now()).strftime("%Y%m%dT%H%M%SZ")
    key = request.query_params.get("key") or f"inventory/{bucket}/{stamp}.parquet"
    await blocking(system.runner.wait_for, system.store.current_position())
    done = await blocking(
        system.inventory.export, bucket, destination, key, request_meta(request, principal), moment
    )
    return json_response(asdict(done), 201)


async def schedule(request: Request) -> Response:
    """GET/PUT/DELETE /buckets/{b}/inventory-schedule: {"destination", "prefix"}."""
    principal = required_principal(request)
    system = system_of(request)
    bucket = request.path_params["bucket"]
    info = await blocking(system.store.get_bucket, bucket)
    if request.method == "GET":
        allow(request, principal, Action.LIST_BUCKET, info)
        return json_response({"inventory": info.inventory})
    allow(request, principal, Action.ADMINISTER_BUCKET, info)
    config: InventoryConfig | None = None
    if request.method == "PUT":
        body = await json_body(request)
        config = {
            "destination": text_field(body, "destination"),
            "prefix": text_field(body, "prefix", "inventory/"),
            "scheduled_by": principal.user,
        }
        target = await blocking(system.store.get_bucket, config["destination"])
        allow(request, principal, Action.WRITE_OBJECTS, target)
    info = await blocking(
        system.store.configure_inventory, bucket, config, request_meta(request, principal), now()
    )
    return json_response({"inventory": info.inventory})
