"""DeniedLog: refused requests (bad credentials, ACL refusals), apart from the event log.

Two JSON-lines files, the current and the one before; the current one is rotated when
it reaches its size, so the log never holds more than about twice that.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

from domain.rate_limit import RateLimiter

BURST = 100  # refusals from one source logged in a row before the rate applies
RATE = 5.0  # refusals a second from one source logged after that; the rest are counted


class DeniedLog:
    def __init__(self, directory: Path, max_bytes: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._current = directory / "denied.jsonl"
        self._previous = directory / "denied.1.jsonl"
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._size = self._current.stat().st_size if self._current.exists() else 0
        # A flood from one address is summarised instead of pushing everyone else's
        # history out of the log.
        self._budget = RateLimiter(BURST, RATE, clock)
        self._held: dict[str, int] = {}  # refusals counted but not logged, by source

    def record(self, entry: dict[str, Any]) -> None:
        source = str(entry.get("source", ""))
        with self._lock:
            if not self._budget.allow(source):
                if source in self._held or len(self._held) < 10_000:
                    self._held[source] = self._held.get(source, 0) + 1
                return
            held = self._held.pop(source, 0)
            if held:
                self._write({"time": entry["time"], "type": "Suppressed",
                             "name": "RefusalsNotLogged", "source": entry.get("source"),
                             "count": held, "message": f"{held} refusals from this source "
                             "were counted but not logged (more than the log takes a second)"})
            self._write(entry)

    def _write(self, entry: dict[str, Any]) -> None:
        line = orjson.dumps(entry) + b"\n"
        if self._size + len(line) > self._max_bytes and self._size > 0:
            self._current.replace(self._previous)
            self._size = 0
        with self._current.open("ab") as f:
            f.write(line)
        self._size += len(line)

    def entries(self) -> Iterator[dict[str, Any]]:
        """Oldest first."""
        with self._lock:
            files = [p.read_bytes() for p in (self._previous, self._current) if p.exists()]
        for content in files:
            for line in content.splitlines():
                if line:
                    yield orjson.loads(line)
