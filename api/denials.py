"""Both doors record refused requests (401/403) in the access log, with the fields
events carry, so an audit can answer who tried what and was turned away."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request

from api.context import MAX_SOURCE_CHARS, MAX_USER_AGENT_CHARS, request_id
from api.system import System
from domain.errors import StrataError

log = logging.getLogger("strata.api")
REFUSED = (401, 403)
MAX_FIELD_CHARS = 1024  # a path, key, bucket or message kept in the log; the rest dropped
MAX_NAME_CHARS = 128  # an access key or user name a refused request claimed


def _bounded(value: object, limit: int = MAX_FIELD_CHARS) -> str | None:
    return None if value is None else str(value)[:limit]


def record_denied(
    system: System, request: Request, door: str, code: str, status: int, exc: Exception
) -> None:
    fields: dict[str, Any] = dict(exc.fields) if isinstance(exc, StrataError) else {}
    entry = {
        "time": datetime.now(UTC).isoformat(),
        "type": "Denied",
        "name": code,
        "status": status,
        "door": door,
        "method": request.method[:16],
        "path": request.url.path[:MAX_FIELD_CHARS],
        "bucket": _bounded(fields.get("bucket")),
        "key": _bounded(fields.get("key")),
        "actor": str(fields.get("actor") or fields.get("access_key") or "")[:MAX_NAME_CHARS],
        "user": str(fields.get("user") or "")[:MAX_NAME_CHARS],
        "request_id": request_id(request),
        "source": request.client.host[:MAX_SOURCE_CHARS] if request.client else "",
        "user_agent": request.headers.get("user-agent", "")[:MAX_USER_AGENT_CHARS],
        "message": _bounded(exc.message if isinstance(exc, StrataError) else str(exc)),
    }
    try:
        system.denied.record(entry)
    except OSError:
        log.exception("could not record a denied request in the access log")
