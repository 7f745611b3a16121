"""The machine's own limit for our write and read path: a bare Starlette app that
writes each PUT body to a file with fsync (and a directory fsync) and serves files
on GET. No metadata, no hashing, no auth: what strata's overhead is measured against.

Run: python -m bench.raw_app <dir> <port>
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route


def create_app(root: Path) -> Starlette:
    root.mkdir(parents=True, exist_ok=True)
    dir_fd = os.open(root, os.O_RDONLY)

    async def put(request: Request) -> Response:
        name = request.path_params["name"].replace("/", "_")
        temp = root / f".{name}.tmp"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            async for piece in request.stream():
                os.write(fd, piece)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temp, root / name)
        os.fsync(dir_fd)
        return Response(status_code=200)

    async def get(request: Request) -> Response:
        path = root / request.path_params["name"].replace("/", "_")
        if not path.exists():
            return Response(status_code=404)
        return FileResponse(path)

    return Starlette(routes=[
        Route("/{name:path}", put, methods=["PUT"]),
        Route("/{name:path}", get, methods=["GET", "HEAD"]),
    ])


if __name__ == "__main__":
    uvicorn.run(create_app(Path(sys.argv[1])), host="127.0.0.1", port=int(sys.argv[2]),
                log_level="warning", access_log=False)
