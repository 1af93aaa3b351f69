"""Failed-authentication limiting per client: a leaky bucket per address (pure, clock injected).

>>> lim = FailureLimiter(burst=2, per_s=1.0, clock=lambda: 0.0)
>>> lim.fail("1.2.3.4"); lim.fail("1.2.3.4"); lim.retry_after_s("1.2.3.4") > 0
True
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["FailureLimiter"]


class FailureLimiter:
    """``burst`` failures are free; after that one more is allowed every ``1/per_s`` seconds.
    A blocked client is refused before its key is even looked at."""

    def __init__(self, *, burst: int = 20, per_s: float = 0.5, max_clients: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.burst, self.per_s, self._clock, self._max = burst, per_s, clock, max_clients
        self._level: dict[str, tuple[float, float]] = {}  # client -> (level, at)
        self._lock = threading.Lock()

    def _current(self, client: str, now: float) -> float:
        level, at = self._level.get(client, (0.0, now))
        return max(0.0, level - (now - at) * self.per_s)

    def retry_after_s(self, client: str) -> float:
        """0 when the client may try; else seconds until it may."""
        with self._lock:
            over = self._current(client, self._clock()) - (self.burst - 1)  # room for one more failure?
        return 0.0 if over <= 0 else over / self.per_s

    def fail(self, client: str) -> None:
        now = self._clock()
        with self._lock:
            if len(self._level) >= self._max:
                self._level = {c: v for c, v in self._level.items() if self._current(c, now) > 0}
            self._level[client] = (self._current(client, now) + 1.0, now)
