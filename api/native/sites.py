"""Remote sites for geo-replication (administrators only): register, list, remove.

The secret key is stored encrypted and never answered back.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from api.auth import admin_principal
from api.blocking import blocking
from api.context import request_meta, system_of
from api.native.common import json_body, json_response, now, text_field
from api.system import System
from domain.errors import NoSuchSite
from domain.sites import check_site, check_site_secret
from projections.sites import SiteRecord, list_sites, site_named


def _shown(site: SiteRecord) -> dict[str, str]:
    return {"name": site.name, "endpoint": site.endpoint, "access_key": site.access_key}


async def _current(system: System) -> None:
    await blocking(system.runner.wait_for, system.store.current_position())


async def put(request: Request) -> Response:
    """PUT /admin/sites/{name} {"endpoint", "access_key", "secret_key"}: 201 when the
    site is new, 200 when it changed."""
    principal = admin_principal(request, "manage sites")
    system = system_of(request)
    name: str = request.path_params["name"]
    body = await json_body(request)
    endpoint = text_field(body, "endpoint").rstrip("/")
    access_key, secret = text_field(body, "access_key"), text_field(body, "secret_key")
    check_site(name, endpoint, access_key)
    check_site_secret(secret)
    created = await blocking(system.store.register_site, name, endpoint, access_key,
                             system.secret_box.encrypt(secret),
                             request_meta(request, principal), now())
    return json_response({"name": name, "endpoint": endpoint, "access_key": access_key},
                         201 if created else 200)


async def get(request: Request) -> Response:
    admin_principal(request, "inspect sites")
    system = system_of(request)
    name: str = request.path_params["name"]
    await _current(system)
    site = site_named(system.views, name)
    if site is None:
        raise NoSuchSite(f"No site named {name[:64]!r} is registered", site=name[:64])
    return json_response(_shown(site))


async def list_all(request: Request) -> Response:
    admin_principal(request, "inspect sites")
    system = system_of(request)
    await _current(system)
    return json_response({"sites": [_shown(s) for s in list_sites(system.views)]})


async def remove(request: Request) -> Response:
    principal = admin_principal(request, "manage sites")
    system = system_of(request)
    await blocking(system.store.remove_site, request.path_params["name"],
                   request_meta(request, principal), now())
    return Response(status_code=204)
