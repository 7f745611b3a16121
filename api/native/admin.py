"""Tokens and user administration."""

from __future__ import annotations

import secrets
import string

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from api.auth import issue_token, required_principal
from api.context import request_meta, system_of
from api.native.common import json_body, json_response, now, text_field
from domain.errors import AccessDenied


async def token(request: Request) -> Response:
    body = await json_body(request)
    system = system_of(request)
    value, expires = await run_in_threadpool(
        issue_token, system, text_field(body, "access_key"), text_field(body, "secret_key")
    )
    return json_response({"token": value, "token_type": "Bearer", "expires_at": expires})


def _require_admin(request: Request) -> None:
    if not required_principal(request).is_admin:
        raise AccessDenied("Only an administrator may manage users")


def _new_key() -> tuple[str, str]:
    upper = string.ascii_uppercase + string.digits
    return (
        "AK" + "".join(secrets.choice(upper) for _ in range(18)),
        "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(40)),
    )


async def create_user(request: Request) -> Response:
    _require_admin(request)
    principal = required_principal(request)
    body = await json_body(request)
    system = system_of(request)
    name = text_field(body, "name")
    generated_key, generated_secret = _new_key()
    access_key = text_field(body, "access_key", generated_key)
    secret_key = text_field(body, "secret_key", generated_secret)
    meta, moment = request_meta(request, principal), now()
    user = await run_in_threadpool(
        system.store.create_user,
        name,
        text_field(body, "display_name", name),
        bool(body.get("admin", False)),
        meta,
        moment,
    )
    await run_in_threadpool(
        system.store.add_access_key,
        name,
        access_key,
        secret_key,
        system.secret_box.encrypt,
        meta,
        moment,
    )
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
    _require_admin(request)
    principal = required_principal(request)
    body = await json_body(request, required=False)
    system = system_of(request)
    name = request.path_params["user"]
    generated_key, generated_secret = _new_key()
    access_key = text_field(body, "access_key", generated_key)
    secret_key = text_field(body, "secret_key", generated_secret)
    await run_in_threadpool(
        system.store.add_access_key,
        name,
        access_key,
        secret_key,
        system.secret_box.encrypt,
        request_meta(request, principal),
        now(),
    )
    return json_response({"name": name, "access_key": access_key, "secret_key": secret_key}, 201)


async def get_user(request: Request) -> Response:
    _require_admin(request)
    system = system_of(request)
    user = await run_in_threadpool(system.store.get_user, request.path_params["user"])
    return json_response(
        {
            "name": user.name,
            "display_name": user.display_name,
            "admin": user.is_admin,
            "access_keys": list(user.access_keys),
        }
    )
