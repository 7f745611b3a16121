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

from api.context import system_of
from api.native.presign import s3_base_url

STATIC = Path(__file__).resolve().parent / "static"
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8"}
HEADERS = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer",
           "x-frame-options": "DENY", "cache-control": "no-cache"}


def policy(s3_door: str) -> str:
    """The page may load only its own files, and talk to this door and the S3 door (its
    uploads and downloads go there, presigned)."""
    return ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src 'self' {s3_door}; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'")


@cache
def _files() -> dict[str, bytes]:
    """Every file the console serves, by name: nothing outside this list is reachable."""
    return {path.name: path.read_bytes() for path in STATIC.iterdir()
            if path.suffix in TYPES}


async def page(request: Request) -> Response:
    name = request.path_params.get("file") or "index.html"
    body = _files().get(name)
    headers = {**HEADERS, "content-security-policy": policy(
        s3_base_url(request, system_of(request)))}
    if body is None:
        return Response(b"Not found", 404, media_type="text/plain", headers=headers)
    return Response(body, media_type=TYPES[Path(name).suffix], headers=headers)


async def to_console(request: Request) -> Response:
    return RedirectResponse("/console/", 308)
