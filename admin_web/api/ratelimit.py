"""Token-bucket rate limiting per API key (in process memory).

Each key may burst ``burst`` requests and then ``per_minute`` a minute. The
admin runs as one process (waitress, threads), so a dict under a lock is the
whole story; several processes would each allow the rate.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ApiSettings:
    """``[api]`` in the config file."""

    rate_per_minute: int = 120
    burst: int = 30

    def __post_init__(self) -> None:
        if self.rate_per_minute < 1 or self.burst < 1:
            raise ValueError("api.rate_per_minute and api.burst must be at least 1")


class RateLimiter:
    def __init__(
        self, per_minute: int, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0.0 if allowed now, else seconds to wait before retrying."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate
