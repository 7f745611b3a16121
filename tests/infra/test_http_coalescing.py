"""Small writes in one turn of the event loop leave in one send (infra/run/http_limits)."""

from __future__ import annotations

import asyncio

from infra.run.http_limits import COALESCE_BYTES, _CoalescingTransport


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:  # type: ignore[override]
        self.sent.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: object = None) -> object:
        return ("127.0.0.1", 1) if name == "peername" else default


def test_a_head_and_body_written_in_one_turn_leave_in_one_send() -> None:
    async def scenario() -> list[bytes]:
        real = RecordingTransport()
        wrapped = _CoalescingTransport(real, asyncio.get_running_loop())
        wrapped.write(b"HTTP/1.1 200 OK\r\n\r\n")
        wrapped.write(b"body")
        assert real.sent == []  # nothing yet: the turn is not over
        await asyncio.sleep(0)
        return real.sent

    assert asyncio.run(scenario()) == [b"HTTP/1.1 200 OK\r\n\r\nbody"]


def test_a_large_write_and_a_close_do_not_wait() -> None:
    async def scenario() -> tuple[list[bytes], bool]:
        real = RecordingTransport()
        wrapped = _CoalescingTransport(real, asyncio.get_running_loop())
        wrapped.write(b"head")
        wrapped.write(b"x" * COALESCE_BYTES)  # big bodies go at once
        wrapped.write(b"tail")
        wrapped.close()  # what was written leaves before the connection closes
        await asyncio.sleep(0)
        wrapped.write(b"late")  # after the close: dropped, as a closed transport would
        await asyncio.sleep(0)
        return real.sent, real.closed

    sent, closed = asyncio.run(scenario())
    assert sent == [b"head" + b"x" * COALESCE_BYTES, b"tail"] and closed


def test_what_the_wrapper_does_not_change_is_the_transports() -> None:
    async def scenario() -> object:
        real = RecordingTransport()
        return _CoalescingTransport(real, asyncio.get_running_loop()).get_extra_info("peername")

    assert asyncio.run(scenario()) == ("127.0.0.1", 1)
