"""Bounds on what one HTTP connection may hold: the request head's size, how long a head
or a body may take to arrive, and how many connections are served at once.

uvicorn's httptools protocol accepts a head of any size and waits for it, and for a
stalled body, forever. This subclass counts the head as it is parsed and arms two
timers; everything else is uvicorn's. Pinned with uvicorn (uv.lock); tests/security
drives it with real sockets.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from infra.settings import HttpLimits


class _HeadTooLarge(Exception):
    pass


_STATUS = {
    408: b"HTTP/1.1 408 Request Timeout\r\n",
    431: b"HTTP/1.1 431 Request Header Fields Too Large\r\n",
}


def bounded_protocol(limits: HttpLimits) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol, bounded by `limits` (uvicorn takes a class)."""
    return type("BoundedHttpToolsProtocol", (_Bounded,), {"limits": limits})


# Below this many bytes a write waits for the loop's turn, to leave in one send.
COALESCE_BYTES = 64 * 1024


class _CoalescingTransport:
    """uvicorn writes a response's head and its body in two calls, each its own send
    and, on loopback, its own wake-up of the client, who cannot use the head alone.
    Small writes made in one turn of the event loop leave together at its end."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []
        self._pending_bytes = 0

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(data)
        self._pending_bytes += len(data)
        if self._pending_bytes >= COALESCE_BYTES:
            self.flush()  # big bodies go as they come, under uvicorn's flow control

    def flush(self) -> None:
        if not self._pending:
            return
        data = b"".join(self._pending) if len(self._pending) > 1 else self._pending[0]
        self._pending.clear()
        self._pending_bytes = 0
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def __getattr__(self, name: str) -> Any:  # everything else is the transport's own
        return getattr(self._transport, name)


class _Bounded(HttpToolsProtocol):
    limits = HttpLimits()

    def shutdown(self) -> None:
        """On stop, an idle connection is dropped at once: closing a TLS connection
        waits (30 s in asyncio) for a handshake an idle pooled client never answers.
        A connection in the middle of a request finishes it, as uvicorn has it."""
        if self.cycle is None or self.cycle.response_complete:
            self.transport.abort()
        else:
            super().shutdown()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
        self._in_head = True
        self._head_size = 0
        self._head_lines = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_head and self._head_timer is None:
            self._arm_head_timer()
        elif self._body_timer is not None:
            self._arm_body_timer()
        try:
            self._feed(data)
        except _HeadTooLarge:
            self._refuse(431, "The request's headers are too large.")

    def _feed(self, data: bytes) -> None:
        # uvicorn's data_received, with a head that grew too large told apart from a
        # malformed one (the parser wraps what a callback raised).
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, _HeadTooLarge):
                raise exc.__context__ from None
            self.send_400_response("Invalid HTTP request received.")
        except httptools.HttpParserError:
            self.send_400_response("Invalid HTTP request received.")
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_size, self._head_lines = True, 0, 0

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        size = len(name) + len(value)
        self._head_lines += 1
        if size > self.limits.header_bytes or self._head_lines > self.limits.headers:
            raise _HeadTooLarge
        self._count(size)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._cancel(self._head_timer)
        self._head_timer = None
        self._arm_body_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._cancel(self._body_timer)
        self._body_timer = None
        self._in_head = True  # whatever arrives next is the next request's head
        super().on_message_complete()

    # -- bounds ---------------------------------------------------------------------------

    def _count(self, size: int) -> None:
        self._head_size += size
        if self._head_size > self.limits.head_bytes:
            raise _HeadTooLarge

    def _arm_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.limits.head_seconds, self._head_late)

    def _arm_body_timer(self) -> None:
        self._cancel(self._body_timer)
        self._body_timer = self.loop.call_later(self.limits.body_stall_seconds, self._body_stalled)

    def _head_late(self) -> None:
        self._head_timer = None
        if not self._in_head or self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self._arm_head_timer()  # still answering the last request: judge the next after
            return
        self._refuse(408, "The request's head did not arrive in time.")

    def _body_stalled(self) -> None:
        self._body_timer = None
        if self.flow.read_paused:  # we stopped reading, not the client sending
            self._arm_body_timer()
            return
        # The application sees the client disconnect: an upload stores nothing.
        self.transport.close()

    def _refuse(self, status: int, message: str) -> None:
        if self.transport.is_closing():
            return
        body = message.encode()
        self.transport.write(
            _STATUS[status]
            + b"content-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
            + b"content-length: %d\r\n\r\n" % len(body) + body
        )
        self.transport.close()

    def _cancel_timers(self) -> None:
        self._cancel(self._head_timer)
        self._cancel(self._body_timer)
        self._head_timer = self._body_timer = None

    @staticmethod
    def _cancel(timer: asyncio.TimerHandle | None) -> None:
        if timer is not None:
            timer.cancel()


def uvicorn_options(limits: HttpLimits) -> dict[str, Any]:
    return {"http": bounded_protocol(limits), "limit_concurrency": limits.connections}
