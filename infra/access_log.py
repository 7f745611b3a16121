"""DeniedLog: refused requests (bad credentials, ACL refusals), apart from the event log.

Two JSON-lines files, the current and the one before; the current one is rotated when
it reaches its size, so the log never holds more than about twice that.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson


class DeniedLog:
    def __init__(self, directory: Path, max_bytes: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._current = directory / "denied.jsonl"
        self._previous = directory / "denied.1.jsonl"
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._size = self._current.stat().st_size if self._current.exists() else 0

    def record(self, entry: dict[str, Any]) -> None:
        line = orjson.dumps(entry) + b"\n"
        with self._lock:
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
