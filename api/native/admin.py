"""Tokens and user administration."""

from __future__ import annotations

import secrets
import string
from dataclasses import asdict
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api.auth import SignInThrottle, Unauthorized, admin_principal, issue_token
from api.blocking import blocking
from api.context import request_meta, system_of
from api.native.common import json_body, json_response, now, text_field
from api.native.errors import MalformedRequest
from api.system import System
from domain.errors import AccessDenied
from domain.records import RequestMeta
from projections.users import list_users as projected_users


async def token(request: Request) -> Response:
    body = await json_body(request)
    system = system_of(request)
    access_key = text_field(body, "access_key")[:128]
    source = request.client.host if request.client else ""
    throttle: SignInThrottle = request.app.state.sign_in_throttle
    throttle.check(access_key, source)
    try:
        value, expires = await blocking(
            issue_token, system, access_key, text_field(body, "secret_key")
        )
    except Unauthorized:
        throttle.failed(access_key, source)
        raise
    return json_response({"token": value, "token_type": "Bearer", "expires_at": expires})


def _new_key() -> tuple[str, str]:
    upper = string.ascii_uppercase + string.digits
    return (
        "AK" + "".join(secrets.choice(upper) for _ in range(18)),
        "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(40)),
    )


async def _bind_key(
    system: System, user: str, body: dict[str, Any], meta: RequestMeta, moment: datetime
) -> tuple[str, str]:
    """Bind the access key the body names, or a generated one, to `user`."""
    generated_key, generated_secret = _new_key()
    access_key = text_field(body, "access_key", generated_key)
    secret_key = text_field(body, "secret_key", generated_secret)
    await blocking(
        system.store.add_access_key,
        user,
        access_key,
        secret_key,
        system.secret_box.encrypt,
        meta,
        moment,
    )
    return access_key, secret_key


async def create_user(request: Request) -> Response:
    principal = admin_principal(request, "manage users")
    body = await json_body(request)
    system = system_of(request)
    name = text_field(body, "name")
    meta, moment = request_meta(request, principal), now()
    user = await blocking(
        system.store.create_user,
        name,
        text_field(body, "display_name", name),
        bool(body.get("admin", False)),
        meta,
        moment,
    )
    access_key, secret_key = await _bind_key(system, name, body, meta, moment)
    return json_response(
        {
            "name": user.name,
            "display_name": user.display_name,
            "admin": user.is_admin,
            "access_key": access_key,
            "secret_key": secret_key,
        },
        201,
    )


async def add_key(request: Request) -> Response:
    principal = admin_principal(request, "manage users")
    body = await json_body(request, required=False)
    name = request.path_params["user"]
    access_key, secret_key = await _bind_key(
        system_of(request), name, body, request_meta(request, principal), now()
    )
    return json_response({"name": name, "access_key": access_key, "secret_key": secret_key}, 201)


async def list_users(request: Request) -> Response:
    """GET /admin/users: every user with its access keys and whether each is active."""
    admin_principal(request, "manage users")
    system = system_of(request)
    await blocking(system.runner.wait_for, system.store.current_position())
    users = await blocking(projected_users, system.views)
    return json_response({"users": [asdict(user) for user in users]})


async def get_user(request: Request) -> Response:
    admin_principal(request, "manage users")
    system = system_of(request)
    user = await blocking(system.store.get_user, request.path_params["user"])
    return json_response(
        {
            "name": user.name,
            "display_name": user.display_name,
            "admin": user.is_admin,
            "access_keys": list(user.access_keys),
        }
    )


async def delete_user(request: Request) -> Response:
    """DELETE /admin/users/{user}: the user and every key it holds stop working now."""
    principal = admin_principal(request, "manage users")
    name = request.path_params["user"]
    if name == principal.user:
        raise AccessDenied("An administrator cannot delete itself",
                           actor=principal.access_key, user=principal.user)
    system = system_of(request)
    await blocking(system.store.delete_user, name, request_meta(request, principal), now())
    return json_response({"name": name, "deleted": True})


async def key_state(request: Request) -> Response:
    """PUT /admin/keys/{access_key} {"active": false|true}: deactivate or activate a key.
    Tokens issued before a deactivation stay refused after the key is active again."""
    principal = admin_principal(request, "manage access keys")
    access_key = request.path_params["access_key"]
    active = (await json_body(request)).get("active")
    if not isinstance(active, bool):
        raise MalformedRequest('Say {"active": true} or {"active": false}')
    system = system_of(request)
    await blocking(system.store.set_access_key_active, access_key, active,
                   request_meta(request, principal), now())
    return json_response({"access_key": access_key, "active": active})


async def rotate_key(request: Request) -> Response:
    """POST /admin/keys/{access_key}/rotate [{"secret_key"}]: a new secret (generated
    unless given); the old secret and every token issued with it stop working now."""
    principal = admin_principal(request, "manage access keys")
    access_key = request.path_params["access_key"]
    body = await json_body(request, required=False)
    secret_key = text_field(body, "secret_key", _new_key()[1])
    system = system_of(request)
    await blocking(system.store.rotate_secret, access_key, secret_key, system.secret_box.encrypt,
                   request_meta(request, principal), now())
    return json_response({"access_key": access_key, "secret_key": secret_key})


async def delete_key(request: Request) -> Response:
    """DELETE /admin/keys/{access_key}: the key and its tokens stop working; its id stays
    taken."""
    principal = admin_principal(request, "manage access keys")
    access_key = request.path_params["access_key"]
    system = system_of(request)
    await blocking(system.store.delete_access_key, access_key,
                   request_meta(request, principal), now())
    return json_response({"access_key": access_key, "deleted": True})
