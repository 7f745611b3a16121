"""The source that history and audit record is the peer's, unless the peer is a proxy
the operator named (issue 19, item 18)."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import Server, free_port, server_env


def _recorded_source(server: Server, bucket: str) -> str:
    h = server.token()
    httpx.put(f"{server.api}/buckets/{bucket}", headers=h).raise_for_status()
    httpx.post(f"{server.api}/buckets/{bucket}/upload", params={"key": "k"}, content=b"x",
               headers={**h, "x-forwarded-for": "203.0.113.9"}).raise_for_status()
    history = httpx.get(f"{server.api}/buckets/{bucket}/history/k", headers=h).json()
    return str(history["history"][-1]["source"])


def test_forwarded_for_is_believed_only_from_trusted_proxies(
    live: Server, tmp_path: Path
) -> None:
    assert _recorded_source(live, "untrusted-forwarding") == "127.0.0.1"
    behind_proxy = Server(tmp_path / "data", free_port(), free_port(),
                          server_env(STRATA_TRUSTED_PROXIES="127.0.0.1"))
    behind_proxy.start()
    try:
        assert _recorded_source(behind_proxy, "trusted-forwarding") == "203.0.113.9"
    finally:
        behind_proxy.stop()
