"""The health answer both doors give: the views runner's state and position, and how
far the views are behind the store (a process serves while they catch up: writes and
reads of objects go to the store; listings wait at the read barrier)."""

from __future__ import annotations

import os

from starlette.responses import JSONResponse

from api.blocking import blocking
from api.system import System


async def health_response(system: System) -> JSONResponse:
    healthy = system.runner.error is None
    position = system.runner.position
    behind = system.runner.behind(await blocking(system.store.current_position))
    return JSONResponse(
        {"status": "ok" if healthy else "degraded", "views_position": position,
         "views_behind_events": behind, "pid": os.getpid(),
         # `serve --workers N`: which worker answered, and whether it runs the
         # background workers
         "worker": system.settings.worker_index, "leads": system.leads},
        200 if healthy else 503,
    )
