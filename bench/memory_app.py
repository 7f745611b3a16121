"""The ceiling for a Python server's 4 KiB GET on this machine: a bare Starlette app on
uvicorn (uvloop, as strata runs) answering GET with bytes it holds in memory, and
taking PUT into memory. No storage, no metadata, no auth: strata's read path is
measured against it (issue 28: at least 35% of it).

Run: python -m bench.memory_app <port>
"""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def create_app() -> Starlette:
    held: dict[str, bytes] = {}

    async def put(request: Request) -> Response:
        held[request.path_params["name"]] = await request.body()
        return Response(status_code=200)

    async def get(request: Request) -> Response:
        body = held.get(request.path_params["name"])
        if body is None:
            return Response(status_code=404)
        return Response(body, media_type="application/octet-stream")

    return Starlette(routes=[
        Route("/{name:path}", put, methods=["PUT"]),
        Route("/{name:path}", get, methods=["GET", "HEAD"]),
    ])


if __name__ == "__main__":
    uvicorn.run(create_app(), host="127.0.0.1", port=int(sys.argv[1]), loop="uvloop",
                log_level="warning", access_log=False)
