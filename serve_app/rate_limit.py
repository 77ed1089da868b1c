"""Token-bucket rate limiting per client (API key or address), in one process.

Each ingress replica keeps its own buckets, so with N replicas a client may get up to N times the
configured rate.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class TokenBucket:
    """``burst`` tokens at most, refilled at ``rate`` per second; a request takes one."""

    rate: float
    burst: int
    tokens: float
    updated: float

    def take(self, now: float) -> float:
        """0 when a token was taken, else the seconds until one is available."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class RateLimiter:
    """Buckets by client; the least recently seen are forgotten beyond ``max_clients``."""

    def __init__(self, max_clients: int = 10_000, clock: Callable[[], float] = time.monotonic):
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        self._max_clients = max_clients
        self._clock = clock

    def check(self, client: str, rate: float, burst: int) -> int:
        """0 when the request may go on, else the Retry-After seconds (at least 1); rate 0 = off."""
        if rate <= 0:
            return 0
        now = self._clock()
        bucket = self._buckets.pop(client, None)
        if bucket is None:
            bucket = TokenBucket(rate=rate, burst=burst, tokens=burst, updated=now)
        # A changed config applies to existing buckets.
        bucket.rate, bucket.burst = rate, burst
        self._buckets[client] = bucket
        while len(self._buckets) > self._max_clients:
            self._buckets.popitem(last=False)
        wait = bucket.take(now)
        return 0 if wait == 0 else max(1, math.ceil(wait))
