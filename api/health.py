"""The health answer both doors give: the views runner's state and position."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse


def health_response(system: Any) -> JSONResponse:
    healthy = system.runner.error is None
    return JSONResponse(
        {"status": "ok" if healthy else "degraded", "views_position": system.runner.position},
        200 if healthy else 503,
    )
