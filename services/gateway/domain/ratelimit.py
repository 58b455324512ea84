"""Per-hospital rate limits: a token bucket per credential (no I/O; the clock is passed in).

Each gateway instance keeps its own buckets in memory, so N instances admit up to N times the rate in
total: the limit protects the service from one hospital's runaway SIMRS, it is not a quota.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class Bucket:
    rate_per_s: float
    burst: int
    tokens: float
    updated: float


@dataclass
class RateLimiter:
    """Admits a request if its credential's bucket has a token; else says how long until it will."""

    default_rate_per_s: float
    default_burst: int
    buckets: dict[str, Bucket] = field(default_factory=dict)

    def take(self, key: str, now: float, rate_per_s: float | None = None, burst: int | None = None) -> float:
        """0 if admitted (a token taken), else the seconds to wait for the next token."""
        rate = rate_per_s or self.default_rate_per_s
        size = burst or self.default_burst
        bucket = self.buckets.get(key)
        if bucket is None or bucket.rate_per_s != rate or bucket.burst != size:
            bucket = self.buckets[key] = Bucket(rate, size, float(size), now)
        bucket.tokens = min(float(size), bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / rate


def retry_after(wait_s: float) -> str:
    """The Retry-After header: whole seconds, at least 1."""
    return str(max(1, math.ceil(wait_s)))
