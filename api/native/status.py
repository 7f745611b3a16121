"""GET /admin/status: how far behind each part of this process is, as JSON for the
console's cluster page (the same readings /metrics gives Prometheus): the views, the
relay to Kafka, the workers, geo-replication to each site, GC and lifecycle.
GET /auth/whoami: who the caller's token names (the console shows the admin pages to
administrators only; the APIs behind them refuse everyone else on their own)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api.auth import admin_principal, required_principal
from api.blocking import blocking
from api.context import system_of
from api.native.common import json_response
from api.native.metrics import log_followers
from api.system import System
from projections.runner import home_position


def _workers(system: System, head: int) -> list[dict[str, Any]]:
    return [{"name": name, "position": f.position,
             "behind_events": max(0, head - f.position), "dead_letters": f.dead_letters}
            for name, f in log_followers(system).items()]


def _status(system: System) -> dict[str, Any]:
    heads = system.store.current_position()
    report: dict[str, Any] = {
        "role": system.role,
        "log_position": home_position(heads),
        "views": {"position": system.runner.position,
                  "behind_events": system.runner.behind(heads),
                  "healthy": system.runner.error is None},
        "workers": _workers(system, home_position(heads)),
        "gc": {"sweeps": system.gc.sweeps, "chunks_collected": system.gc.chunks_collected,
               "bytes_collected": system.gc.bytes_collected},
        "lifecycle": {"passes": system.lifecycle.passes},
    }
    if system.relay_lag is not None:
        events, seconds = system.relay_lag(time.time())
        report["relay"] = {"behind_events": events, "behind_seconds": seconds}
    if system.geo is not None:
        report["sites"] = [{"name": name, **values} for name, values in
                           sorted(system.geo.site_metrics(datetime.now(UTC)).items())]
    return report


async def status(request: Request) -> Response:
    admin_principal(request, "inspect the store's status")
    return json_response(await blocking(_status, system_of(request)))


async def single_sign_on(request: Request) -> Response:
    """GET /auth/sso: where the console sends a browser to sign in, when an OpenID
    Connect issuer is configured (nothing secret: the issuer, its sign-in page and the
    client id its tokens must be issued for)."""
    system = system_of(request)
    if system.oidc is None:
        return json_response({"enabled": False})
    return json_response({"enabled": True, **await blocking(system.oidc.browser_sign_in)})


async def whoami(request: Request) -> Response:
    principal = required_principal(request)
    return json_response({"user": principal.user, "access_key": principal.access_key,
                          "admin": principal.is_admin})
