"""A request head is bounded in size and time, a body may not stall forever
(issue 19, items 10 and 11). Raw sockets: no client library would send these."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server, free_port, running, server_env

BOUND = 15.0  # seconds any refusal below may take, far above the 1 s limits set


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("strict")
    srv = Server(root / "data", free_port(), free_port(), server_env(
        STRATA_HEAD_TIMEOUT_SECONDS="1", STRATA_BODY_STALL_SECONDS="1"))
    with running(srv):
        yield srv


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=BOUND)
    sock.settimeout(BOUND)
    return sock


def _answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def _send_all_you_can(sock: socket.socket, data: bytes) -> None:
    try:
        for start in range(0, len(data), 65536):
            sock.sendall(data[start : start + 65536])
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server closed on us, as it should


@pytest.mark.parametrize("door", ["s3", "api"])
@pytest.mark.parametrize("head", [
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nUser-Agent: " + b"u" * (16 * 1024 * 1024) + b"\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 100_000 + b"\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"v" * 20_000 + b"\r\n\r\n",
], ids=["16-MiB-header", "100k-headers", "20-KiB-header"])
def test_an_oversized_head_is_refused_with_431(strict: Server, door: str, head: bytes) -> None:
    port = strict.s3_port if door == "s3" else strict.api_port
    with _connect(port) as sock:
        _send_all_you_can(sock, head)
        try:
            answer = _answer(sock)
        except ConnectionResetError:
            answer = b""
    assert answer.startswith(b"HTTP/1.1 431") or answer == b"", answer[:200]
    ok = httpx.get(f"http://127.0.0.1:{port}/healthz" if door == "api"
                   else f"http://127.0.0.1:{port}/_strata/healthz",
                   headers={"x-fine": "v" * 8000})
    assert ok.status_code == 200


@pytest.mark.parametrize("door", ["s3", "api"])
def test_idle_and_slow_heads_are_closed(strict: Server, door: str) -> None:
    port = strict.s3_port if door == "s3" else strict.api_port
    started = time.monotonic()
    with _connect(port) as idle, _connect(port) as slow:
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the rest
        assert _answer(slow).startswith(b"HTTP/1.1 408")
        assert _answer(idle).startswith(b"HTTP/1.1 408")
    assert time.monotonic() - started < BOUND


def test_a_stalled_upload_is_closed_and_stores_nothing(strict: Server) -> None:
    h = strict.token()
    httpx.put(f"{strict.api}/buckets/stalls", headers=h).raise_for_status()
    with _connect(strict.api_port) as sock:
        sock.sendall(
            b"POST /buckets/stalls/upload?key=half HTTP/1.1\r\nHost: x\r\n"
            + f"Authorization: {h['authorization']}\r\n".encode()
            + b"Content-Length: 100000\r\n\r\n" + b"x" * 1000
        )
        answer = _answer(sock)  # the server gives up on the body and closes
    assert not answer.startswith(b"HTTP/1.1 2"), answer[:200]
    listing = httpx.get(f"{strict.api}/buckets/stalls/list", headers=h).json()
    assert listing["objects"] == []


def test_limits_are_settings(tmp_path: Path) -> None:
    from infra.settings import Settings

    settings = Settings.from_env({"STRATA_HEAD_TIMEOUT_SECONDS": "2.5",
                                  "STRATA_BODY_STALL_SECONDS": "7",
                                  "STRATA_MAX_CONNECTIONS": "10"})
    limits = settings.http_limits
    assert (limits.head_seconds, limits.body_stall_seconds, limits.connections) == (2.5, 7, 10)


@pytest.mark.parametrize("door", ["s3", "api"])
def test_pipelined_requests_are_answered_whole_and_in_order(strict: Server, door: str) -> None:
    """Answers leave in one send per turn of the loop (infra/run/http_limits.py): three
    requests sent at once still get three whole answers, in order, and the last one's
    `Connection: close` waits for its answer to leave."""
    port, path = (strict.s3_port, b"/_strata/healthz") if door == "s3" else (
        strict.api_port, b"/healthz")
    with _connect(port) as sock:
        sock.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path * 2
                     + b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path)
        received = _answer(sock)
    answers = received.split(b"HTTP/1.1 ")[1:]
    assert len(answers) == 3
    for answer in answers:
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"200 OK")
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        assert len(body) == length and body.startswith(b"{")
