"""A job run every so often in a thread of its own, until stopped."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any


class Periodic:
    def __init__(self, name: str, interval_seconds: float, job: Callable[[], Any],
                 log: logging.Logger) -> None:
        self._name = name
        self._interval = interval_seconds
        self._job = job
        self._log = log
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._job()
            except Exception:
                self._log.exception("%s failed; will try again", self._name)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
