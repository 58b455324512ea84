"""Retry policy: which answers are retried, backoff bounds with jitter, Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.notifier.domain.model import AttemptResult
from services.notifier.domain.retry import (
    Delivered,
    GiveUp,
    RetryAt,
    RetryPolicy,
    backoff_s,
    classify_http,
    next_step,
    parse_retry_after,
)

POLICY = RetryPolicy(max_attempts=5, base_s=2.0, max_s=60.0)
NOW = datetime(2026, 11, 10, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(200, "delivered"), (202, "delivered"), (204, "delivered"), (408, "retry"), (429, "retry"), (500, "retry"),
     (502, "retry"), (503, "retry"), (504, "retry"), (301, "failed"), (400, "failed"), (401, "failed"),
     (403, "failed"), (404, "failed"), (410, "failed"), (422, "failed")],
)  # fmt: skip
def test_only_timeouts_429_and_5xx_are_retried(status: int, outcome: str) -> None:
    assert classify_http(status) == outcome


@given(attempt=st.integers(min_value=1, max_value=200), r=st.floats(min_value=0.0, max_value=1.0))
def test_backoff_stays_within_half_and_all_of_the_capped_exponential(attempt: int, r: float) -> None:
    ceiling = min(POLICY.max_s, POLICY.base_s * 2 ** min(attempt - 1, 60))
    delay = backoff_s(attempt, POLICY, lambda: r)
    assert ceiling / 2 <= delay <= ceiling
    assert delay <= POLICY.max_s


def test_backoff_doubles_until_the_cap() -> None:
    highs = [backoff_s(n, POLICY, lambda: 1.0) for n in range(1, 8)]
    lows = [backoff_s(n, POLICY, lambda: 0.0) for n in range(1, 8)]
    assert highs == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    assert lows == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_delivered_is_final() -> None:
    assert next_step(AttemptResult("delivered", 200), 1, POLICY, NOW) == Delivered()


def test_a_refusal_is_final_at_the_first_attempt() -> None:
    step = next_step(AttemptResult("failed", 404, "HTTP 404"), 1, POLICY, NOW)
    assert isinstance(step, GiveUp)
    assert "404" in step.reason


def test_a_retryable_failure_is_retried_until_the_budget_is_spent() -> None:
    result = AttemptResult("retry", 503, "HTTP 503")
    for attempt in range(1, POLICY.max_attempts):
        step = next_step(result, attempt, POLICY, NOW, lambda: 0.5)
        assert isinstance(step, RetryAt)
        assert step.at == NOW + timedelta(seconds=backoff_s(attempt, POLICY, lambda: 0.5))
    last = next_step(result, POLICY.max_attempts, POLICY, NOW)
    assert isinstance(last, GiveUp)
    assert f"after {POLICY.max_attempts} attempts" in last.reason


def test_retry_after_is_honoured_and_capped() -> None:
    step = next_step(AttemptResult("retry", 429, retry_after_s=7), 1, POLICY, NOW, lambda: 1.0)
    assert step == RetryAt(NOW + timedelta(seconds=7), 7.0)
    capped = next_step(AttemptResult("retry", 429, retry_after_s=86400), 1, POLICY, NOW)
    assert capped == RetryAt(NOW + timedelta(seconds=60), 60.0)


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert parse_retry_after("120", NOW) == 120.0
    assert parse_retry_after("Tue, 10 Nov 2026 03:00:30 GMT", NOW) == 30.0
    assert parse_retry_after("Tue, 10 Nov 2026 02:00:00 GMT", NOW) == 0.0
    assert parse_retry_after(None, NOW) is None
    assert parse_retry_after("soon", NOW) is None
