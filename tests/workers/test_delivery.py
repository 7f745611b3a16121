"""The one retry and dead-letter policy both runners use."""

from __future__ import annotations

import asyncio
from typing import Any

from workers.delivery import RetryPolicy


class Flaky:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self, event: Any) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError(f"failure {self.calls}")


def test_a_handler_is_retried_with_doubling_waits_until_it_succeeds() -> None:
    waits: list[float] = []
    handler = Flaky(failures=3)
    policy = RetryPolicy(attempts=5, backoff_seconds=0.1)
    assert policy.deliver("w", handler, "event", 7, waits.append) is None
    assert handler.calls == 4 and waits == [0.1, 0.2, 0.4]


def test_a_handler_that_keeps_failing_is_given_up_with_its_last_error() -> None:
    waits: list[float] = []
    handler = Flaky(failures=99)
    failed = RetryPolicy(attempts=3, backoff_seconds=1).deliver("w", handler, "e", 1, waits.append)
    assert isinstance(failed, RuntimeError) and str(failed) == "failure 3"
    assert handler.calls == 3 and waits == [1, 2]


def test_the_event_loop_runner_follows_the_same_policy() -> None:
    handler = Flaky(failures=2)
    retries: list[int] = []

    async def run(event: Any) -> None:
        handler(event)

    policy = RetryPolicy(attempts=3, backoff_seconds=0.001)
    failed = asyncio.run(policy.deliver_async("w", run, "e", 1, lambda: retries.append(1)))
    assert failed is None and handler.calls == 3 and len(retries) == 2
    stubborn = Flaky(failures=9)

    async def run_stubborn(event: Any) -> None:
        stubborn(event)

    assert isinstance(asyncio.run(policy.deliver_async("w", run_stubborn, "e", 1)), RuntimeError)
    assert stubborn.calls == 3
