"""The one retry and dead-letter policy: how often a handler is tried on an event, how
long to wait between tries, and when to give up and dead-letter the event (logged and
counted, never dropped silently). The in-process follower (workers/runner.py) and the
Kafka worker app (infra/run/worker_app.py) both deliver through it; only how they wait
(a thread, the event loop) and where a dead letter goes (a view, a topic) differ.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("strata.workers")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int  # tries of one handler on one event before it is dead-lettered
    backoff_seconds: float  # the first wait; each later wait doubles

    def after_failure(self, who: str, attempt: int, position: int, event: Any,
                      exc: Exception) -> float | None:
        """The wait before the next attempt, or None when this was the last one."""
        if attempt >= self.attempts:
            log.error("%s: gave up on position %d (%s) after %d attempts: %r",
                      who, position, type(event).__qualname__, attempt, exc)
            return None
        log.warning("%s: attempt %d at position %d failed: %r; retrying",
                    who, attempt, position, exc)
        return self.backoff_seconds * 2.0 ** (attempt - 1)

    def deliver(self, who: str, handler: Callable[[Any], None], event: Any, position: int,
                wait: Callable[[float], object]) -> Exception | None:
        """Blocking: run `handler` until it succeeds (None) or gives up (its last error)."""
        attempt = 0
        while True:
            attempt += 1
            try:
                handler(event)
                return None
            except Exception as exc:
                delay = self.after_failure(who, attempt, position, event, exc)
                if delay is None:
                    return exc
                wait(delay)

    async def deliver_async(
        self, who: str, handler: Callable[[Any], Awaitable[None]], event: Any, position: int,
        on_retry: Callable[[], None] = lambda: None,
    ) -> Exception | None:
        """The same on an event loop: `handler` is awaited, waits are asyncio sleeps."""
        attempt = 0
        while True:
            attempt += 1
            try:
                await handler(event)
                return None
            except Exception as exc:
                delay = self.after_failure(who, attempt, position, event, exc)
                if delay is None:
                    return exc
                on_retry()
                await asyncio.sleep(delay)
