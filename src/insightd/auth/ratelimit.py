"""Per-key sliding-window rate limits, like DRF's SimpleRateThrottle.

The in-process limiter serves the embedded default; the ``RateLimiter`` protocol lets a
Redis-backed limiter share counts between several server processes.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

from insightd.settings import RateLimit


class RateLimiter(Protocol):
    def hit(self, key: str) -> float | None:
        """Record a request for ``key``; return ``None`` if allowed, else seconds to wait."""


class MemoryRateLimiter:
    def __init__(self, limits: Sequence[RateLimit], clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = list(limits)
        self._clock = clock
        self._history: dict[tuple[str, int], deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> float | None:
        if not self.limits:
            return None
        now = self._clock()
        with self._lock:
            wait = 0.0
            windows = []
            for index, limit in enumerate(self.limits):
                history = self._history.setdefault((key, index), deque())
                while history and history[0] <= now - limit.seconds:
                    history.popleft()
                if len(history) >= limit.count:
                    wait = max(wait, limit.seconds - (now - history[0]))
                windows.append(history)
            if wait > 0:
                return wait
            for history in windows:
                history.append(now)
        return None


def retry_after(wait: float) -> int:
    return max(1, math.ceil(wait))
