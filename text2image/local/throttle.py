"""Token-bucket throttling with API Gateway's semantics: ``rate`` requests per second
sustained, ``burst`` at once; a refused request gets 429 and how long to wait."""

from __future__ import annotations

import math
import threading
import time


class TokenBucket:
    def __init__(self, rate: float, burst: int) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("throttling needs rate > 0 and burst >= 1")
        self.rate, self.burst = rate, burst
        self._tokens = float(burst)
        self._updated = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> float:
        """0 when the request may pass, else the seconds until a token is free."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            if self._tokens >= 1:
                self._tokens -= 1
                return 0.0
            return (1 - self._tokens) / self.rate


def retry_after_header(wait: float) -> str:
    """Retry-After takes whole seconds; never advertise 0 for a refused request."""
    return str(max(1, math.ceil(wait)))
