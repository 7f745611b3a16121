"""DeniedLog: refused requests (bad credentials, ACL refusals), apart from the event log.

Two JSON-lines files, the current and the one before; the current one is rotated when
it reaches its size, so the log never holds more than about twice that.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

BURST = 100  # refusals from one source logged in a row before the rate applies
RATE = 5.0  # refusals a second from one source logged after that; the rest are counted
SOURCES = 10_000  # sources remembered; the longest unseen is forgotten first


class SourceBudget:
    """How many refusals from one source the log takes: a flood from one address is
    summarised instead of pushing everyone else's history out of the log."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._sources: OrderedDict[str, list[float]] = OrderedDict()  # tokens, time, held

    def take(self, source: str) -> tuple[bool, int]:
        """Whether to log this refusal, and how many earlier ones were held back."""
        now = self._clock()
        tokens, then, held = self._sources.pop(source, [float(BURST), now, 0.0])
        tokens = min(float(BURST), tokens + (now - then) * RATE)
        if tokens >= 1:
            self._remember(source, [tokens - 1, now, 0.0])
            return True, int(held)
        self._remember(source, [tokens, now, held + 1])
        return False, 0

    def _remember(self, source: str, state: list[float]) -> None:
        self._sources[source] = state
        if len(self._sources) > SOURCES:
            self._sources.popitem(last=False)


class DeniedLog:
    def __init__(self, directory: Path, max_bytes: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._current = directory / "denied.jsonl"
        self._previous = directory / "denied.1.jsonl"
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._size = self._current.stat().st_size if self._current.exists() else 0
        self._budget = SourceBudget()

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            logged, held = self._budget.take(str(entry.get("source", "")))
            if not logged:
                return
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
