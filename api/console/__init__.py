"""The web console (issue 27): static files the native door serves at /console/.

No build step and no third-party script: hand-written ES modules and CSS, served from
the package with a strict Content-Security-Policy (nothing loads from elsewhere, no
inline script or style). The console talks to the native API with a bearer token it
keeps in memory only (never in storage or a cookie), so no request of another site can
act as the signed-in user.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

STATIC = Path(__file__).resolve().parent / "static"
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
HEADERS = {"content-security-policy": CSP, "x-content-type-options": "nosniff",
           "referrer-policy": "no-referrer", "x-frame-options": "DENY",
           "cache-control": "no-cache"}


@cache
def _files() -> dict[str, bytes]:
    """Every file the console serves, by name: nothing outside this list is reachable."""
    return {path.name: path.read_bytes() for path in STATIC.iterdir()
            if path.suffix in TYPES}


async def page(request: Request) -> Response:
    name = request.path_params.get("file") or "index.html"
    body = _files().get(name)
    if body is None:
        return Response(b"Not found", 404, media_type="text/plain", headers=HEADERS)
    return Response(body, media_type=TYPES[Path(name).suffix], headers=HEADERS)


async def to_console(request: Request) -> Response:
    return RedirectResponse("/console/", 308)
