"""Helpers the native handlers share: JSON in and out, time, and query parsing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from api.native.errors import MalformedRequest


def now() -> datetime:
    return datetime.now(UTC)


def json_response(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status, media_type="application/json")


MAX_JSON_BYTES = 1024 * 1024  # a native call's JSON body, unless the call says otherwise


async def bounded_body(request: Request, limit: int) -> bytes:
    """The request's body, refused (400) as soon as it grows past `limit` bytes."""
    pieces, size = [], 0
    async for piece in request.stream():
        size += len(piece)
        if size > limit:
            raise MalformedRequest(f"The body is larger than this call takes ({limit} bytes)")
        pieces.append(piece)
    return b"".join(pieces)


async def json_body(request: Request, required: bool = True,
                    limit: int = MAX_JSON_BYTES) -> dict[str, Any]:
    return json_object(await bounded_body(request, limit), required)


def json_object(raw: bytes, required: bool = True) -> dict[str, Any]:
    """A body parsed as a JSON object (a large one: call it off the event loop)."""
    if not raw.strip():
        if required:
            raise MalformedRequest("This call needs a JSON object as its body")
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedRequest(f"The body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise MalformedRequest("The body must be a JSON object")
    return body


def text_field(body: dict[str, Any], name: str, default: str | None = None) -> str:
    value = body.get(name, default)
    if not isinstance(value, str):
        raise MalformedRequest(f"The field {name!r} must be a string")
    return value


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise MalformedRequest(f"{name} must be a whole number") from None
    if not low <= value <= high:
        raise MalformedRequest(f"{name} must be between {low} and {high}")
    return value
