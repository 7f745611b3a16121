"""A small client of the native API for the `strata` commands that talk to a server."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from infra.settings import Settings, SettingsError


@dataclass(frozen=True)
class Target:
    url: str
    access_key: str
    secret_key: str
    source: str = "--access-key"  # where the credentials came from, for a refusal's message


def target(settings: Settings, url: str | None, access_key: str | None,
           secret_key: str | None) -> Target:
    """Where and as whom: flags first, then STRATA_ROOT_*, then the credentials that
    `strata serve` saved in the data dir."""
    url = (url or f"http://{settings.host}:{settings.api_port}").rstrip("/")
    source = "--access-key and --secret-key" if access_key else "STRATA_ROOT_ACCESS_KEY"
    access_key = access_key or settings.root_access_key
    secret_key = secret_key or settings.root_secret_key
    if not (access_key and secret_key):
        saved = settings.data_dir / "root-credentials.json"
        if not saved.exists():
            raise SettingsError(
                "no credentials: pass --access-key and --secret-key, set "
                f"STRATA_ROOT_ACCESS_KEY and STRATA_ROOT_SECRET_KEY, or point --data-dir at "
                f"the server's data dir (looked for {saved})"
            )
        creds = json.loads(saved.read_text())
        access_key, secret_key = creds["access_key"], creds["secret_key"]
        source = str(saved)
    return Target(url, access_key, secret_key, source)


class ApiError(RuntimeError):
    """The server refused a call; the message is the server's own."""


class NativeClient:
    def __init__(self, where: Target, timeout: float = 60.0) -> None:
        self._http = httpx.Client(base_url=where.url, timeout=timeout)
        try:
            r = self._http.post("/auth/token", json={"access_key": where.access_key,
                                                     "secret_key": where.secret_key})
        except httpx.TransportError as exc:
            raise ApiError(f"cannot reach strata at {where.url}: {exc}; is it running?") from None
        if r.status_code == 401:
            raise ApiError(f"strata at {where.url} refused the access key {where.access_key} "
                           f"(from {where.source}): give the right one with --access-key and "
                           "--secret-key, or --data-dir of the server that made it")
        self._check(r)
        self._http.headers["authorization"] = f"Bearer {r.json()['token']}"

    @staticmethod
    def _check(r: httpx.Response) -> None:
        if r.status_code >= 400:
            try:
                body = r.json()
                message = f"{body['error']}: {body['message']}"
            except (ValueError, KeyError):
                message = r.text[:200]
            raise ApiError(f"{r.request.method} {r.request.url.path} answered "
                           f"{r.status_code} {message}")

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        r = self._http.request(method, path, **kwargs)
        self._check(r)
        return r.json() if r.content else None

    def lines(self, path: str, params: dict[str, Any]) -> Iterator[str]:
        """The response body's lines, streamed (no read timeout: a feed may idle)."""
        with self._http.stream("GET", path, params=params, timeout=httpx.Timeout(
                10.0, read=None)) as r:
            if r.status_code >= 400:
                r.read()
                self._check(r)
            yield from r.iter_lines()

    def close(self) -> None:
        self._http.close()


def progress_line(text: str) -> None:
    """Rewrites one status line on stderr (a progress bar for long exports)."""
    sys.stderr.write(f"\r{text}")
    sys.stderr.flush()


def bar(done: int, total: int | None, width: int = 30) -> str:
    if not total:
        return f"{done:,}"
    filled = min(width, width * done // total)
    return f"[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,}"


def save_path(path: str) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    return out
