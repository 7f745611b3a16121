"""The health answer both doors give: the views runner's state and position."""

from __future__ import annotations

from starlette.responses import JSONResponse

from api.system import System


def health_response(system: System) -> JSONResponse:
    healthy = system.runner.error is None
    return JSONResponse(
        {"status": "ok" if healthy else "degraded", "views_position": system.runner.position},
        200 if healthy else 503,
    )
