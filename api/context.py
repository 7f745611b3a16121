"""Per-request context: request id middleware and the RequestMeta that events carry."""

from __future__ import annotations

import itertools
import os

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.system import System
from domain.access import Principal
from domain.records import RequestMeta

_PROCESS_TAG = os.urandom(3).hex().upper()
_sequence = itertools.count(1)


def new_request_id() -> str:
    """16 hex digits, unique per process start and request; far cheaper than uuid4,
    which reads the kernel's random source on every request."""
    return f"{_PROCESS_TAG}{next(_sequence) & 0xFFFFFFFFFF:010X}"


class RequestIdMiddleware:
    """Gives every request an id, echoed as x-request-id and x-amz-request-id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                headers.append((b"x-amz-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_id)


def request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", ""))


MAX_USER_AGENT_CHARS = 512  # kept on every event a request makes; the rest is dropped
MAX_SOURCE_CHARS = 64


def request_meta(request: Request, principal: Principal | None) -> RequestMeta:
    return {
        "actor": principal.access_key if principal else "anonymous",
        "request_id": request_id(request),
        "source": request.client.host[:MAX_SOURCE_CHARS] if request.client else "",
        "user_agent": request.headers.get("user-agent", "")[:MAX_USER_AGENT_CHARS],
        "user": principal.user if principal else "anonymous",
    }


def system_of(request: Request) -> System:
    """The System the composition root opened and handed to the door."""
    system: System = request.app.state.system
    return system
