"""Per-repository token buckets: a burst is accepted at once, then `rate` deliveries per second.

Only signed deliveries reach the limiter, so keys come from GitHub; the table is still bounded
(least recently used buckets are dropped first) so no sequence of deliveries grows memory forever.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """`allow(key)` takes one token from `key`'s bucket; `rate` 0 disables the limit."""

    def __init__(
        self,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        if burst < 1 or rate < 0 or max_keys < 1:
            raise ValueError("rate must be ≥ 0, burst and max_keys ≥ 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def allow(self, key: str) -> bool:
        if self.rate == 0:
            return True
        now = self._clock()
        bucket = self._buckets.pop(key, None) or _Bucket(tokens=float(self.burst), updated=now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        self._buckets[key] = bucket
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return True
        return False

    def __len__(self) -> int:
        return len(self._buckets)
