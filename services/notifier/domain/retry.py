"""When to try a delivery again: outcome of a status code, backoff with jitter, Retry-After."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from services.notifier.domain.model import AttemptResult, Outcome

Random = Callable[[], float]


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base_s: float
    max_s: float


@dataclass(frozen=True)
class Delivered:
    pass


@dataclass(frozen=True)
class RetryAt:
    at: datetime
    delay_s: float


@dataclass(frozen=True)
class GiveUp:
    reason: str


Step = Delivered | RetryAt | GiveUp


def classify_http(status: int) -> Outcome:
    """2xx delivered; 408, 429 and 5xx are worth retrying; any other answer is final."""
    if 200 <= status < 300:
        return "delivered"
    if status in (408, 429) or 500 <= status < 600:
        return "retry"
    return "failed"


def backoff_s(attempt: int, policy: RetryPolicy, rand: Random = random.random) -> float:
    """Delay after the `attempt`-th failure: base·2^(attempt-1) capped at max, jittered into [d/2, d]."""
    ceiling = min(policy.max_s, policy.base_s * 2.0 ** min(max(attempt - 1, 0), 60))
    return ceiling / 2 + rand() * ceiling / 2


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds asked for by a Retry-After header (delta-seconds or an HTTP date); None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max((when - now).total_seconds(), 0.0)


def next_step(
    result: AttemptResult, attempt: int, policy: RetryPolicy, now: datetime, rand: Random = random.random
) -> Step:
    """What follows attempt number `attempt` (1-based) with this result."""
    if result.outcome == "delivered":
        return Delivered()
    if result.outcome == "failed":
        return GiveUp(f"refused by the receiver: {result.error or result.status_code}")
    if attempt >= policy.max_attempts:
        return GiveUp(f"gave up after {attempt} attempts: {result.error or result.status_code}")
    if result.retry_after_s is not None:
        delay = min(max(result.retry_after_s, 0.0), policy.max_s)
    else:
        delay = backoff_s(attempt, policy, rand)
    return RetryAt(now + timedelta(seconds=delay), delay)
