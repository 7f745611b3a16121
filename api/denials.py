"""Both doors record refused requests (401/403) in the access log, with the fields
events carry, so an audit can answer who tried what and was turned away."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request

from api.context import request_id
from domain.errors import StrataError

log = logging.getLogger("strata.api")
REFUSED = (401, 403)


def record_denied(
    system: Any, request: Request, door: str, code: str, status: int, exc: Exception
) -> None:
    fields: dict[str, Any] = dict(exc.fields) if isinstance(exc, StrataError) else {}
    entry = {
        "time": datetime.now(UTC).isoformat(),
        "type": "Denied",
        "name": code,
        "status": status,
        "door": door,
        "method": request.method,
        "path": request.url.path,
        "bucket": fields.get("bucket"),
        "key": fields.get("key"),
        "actor": str(fields.get("actor") or fields.get("access_key") or ""),
        "user": str(fields.get("user") or ""),
        "request_id": request_id(request),
        "source": request.client.host if request.client else "",
        "user_agent": request.headers.get("user-agent", ""),
        "message": exc.message if isinstance(exc, StrataError) else str(exc),
    }
    try:
        system.denied.record(entry)
    except OSError:
        log.exception("could not record a denied request in the access log")
