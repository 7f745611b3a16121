"""Token buckets keyed by a name: how often one source or key may do something.

Pure bookkeeping with an injected clock; the callers decide what a refusal means.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable


class RateLimiter:
    """Each name may act `burst` times at once, then `rate` times a second. At most
    `names` names are remembered; the one unseen longest is forgotten first."""

    def __init__(self, burst: float, rate: float, clock: Callable[[], float],
                 names: int = 10_000) -> None:
        self._burst = burst
        self._rate = rate
        self._clock = clock
        self._names = names
        self._state: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, time
        self._lock = threading.Lock()

    def allow(self, name: str, cost: float = 1.0) -> bool:
        """Take `cost` from the name's bucket if it holds that much."""
        with self._lock:
            tokens = self._tokens(name)
            allowed = tokens >= cost
            self._keep(name, tokens - cost if allowed else tokens)
            return allowed

    def available(self, name: str) -> bool:
        """Whether the name could act now, taking nothing."""
        with self._lock:
            return self._tokens(name) >= 1

    def seconds_until_allowed(self, name: str) -> float:
        with self._lock:
            missing = 1 - self._tokens(name)
        return max(0.0, missing / self._rate)

    def _tokens(self, name: str) -> float:
        now = self._clock()
        tokens, then = self._state.get(name, (self._burst, now))
        return min(self._burst, tokens + (now - then) * self._rate)

    def _keep(self, name: str, tokens: float) -> None:
        self._state.pop(name, None)
        self._state[name] = (tokens, self._clock())
        if len(self._state) > self._names:
            self._state.popitem(last=False)
