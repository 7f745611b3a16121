"""A real `strata serve` process: disconnects, kill -9 and restart."""

from __future__ import annotations

import socket
import threading
import time

import httpx

from tests.conftest import Server, stored_chunks


def _raw_upload_then_vanish(server: Server, headers: dict[str, str], key: str, sent: int,
                            declared: int) -> None:
    with socket.create_connection(("127.0.0.1", server.api_port)) as sock:
        head = (f"POST /buckets/docs/upload?key={key} HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: {headers['authorization']}\r\n"
                f"Content-Length: {declared}\r\n\r\n")
        sock.sendall(head.encode() + b"y" * sent)
        time.sleep(0.3)


def _listing(server: Server, headers: dict[str, str]) -> list[str]:
    r = httpx.get(f"{server.api}/buckets/docs/list", headers=headers)
    return [o["key"] for o in r.json()["objects"]]


def test_a_body_cut_short_leaves_nothing_visible(server: Server) -> None:
    h = server.token()
    httpx.put(f"{server.api}/buckets/docs", headers=h).raise_for_status()
    _raw_upload_then_vanish(server, h, "cut", sent=600_000, declared=2_000_000)
    assert httpx.get(f"{server.api}/buckets/docs/cut", headers=h).status_code == 404
    assert _listing(server, h) == []


def test_kill_9_mid_upload_and_mid_delete_loses_nothing_acknowledged(server: Server) -> None:
    h = server.token()
    api = server.api
    httpx.put(f"{api}/buckets/docs", headers=h).raise_for_status()
    kept = {f"k{i}": bytes([i]) * (300_000 + i) for i in range(5)}
    for key, body in kept.items():
        httpx.post(f"{api}/buckets/docs/upload", params={"key": key}, content=body,
                   headers=h).raise_for_status()
    httpx.delete(f"{api}/buckets/docs/k0", headers=h).raise_for_status()

    # An upload in flight (several chunks already durable) and a delete racing the kill.
    upload = threading.Thread(target=_raw_upload_then_vanish,
                              args=(server, h, "partial", 900_000, 5_000_000))
    upload.start()
    time.sleep(0.15)
    acknowledged: list[bool] = []

    def delete_k1() -> None:
        try:
            r = httpx.delete(f"{api}/buckets/docs/k1", headers=h)
            acknowledged.append(r.status_code == 200)
        except httpx.TransportError:
            acknowledged.append(False)

    deleting = threading.Thread(target=delete_k1)
    deleting.start()
    server.kill()
    upload.join(5)
    deleting.join(5)
    orphans_before = len(stored_chunks(server.data_dir))

    server.start()
    h = server.token()
    listed = _listing(server, h)
    assert "partial" not in listed and "k0" not in listed
    for key in ("k2", "k3", "k4"):
        assert key in listed
        assert httpx.get(f"{api}/buckets/docs/{key}", headers=h).content == kept[key]
    if acknowledged == [True]:
        assert "k1" not in listed
    if "k1" in listed:  # the delete was not acknowledged before the kill
        assert httpx.get(f"{api}/buckets/docs/k1", headers=h).content == kept["k1"]
    # Chunks of the cut upload and of the deleted object are collected after the grace.
    expected_chunks = sum(len(range(0, len(kept[k]), 256 * 1024)) for k in listed)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        remaining = len(stored_chunks(server.data_dir))
        if remaining == expected_chunks:
            break
        time.sleep(0.2)
    assert orphans_before > expected_chunks
    assert remaining == expected_chunks
