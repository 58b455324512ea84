"""VClaim-style signatures and the per-hospital token bucket."""

from __future__ import annotations

import base64
import hashlib
import hmac

from services.gateway.domain.ratelimit import RateLimiter, retry_after
from services.gateway.domain.signature import sign, timestamp_fresh, verify


def test_a_read_is_signed_as_vclaim_signs_and_a_write_binds_its_body() -> None:
    expected = base64.b64encode(hmac.new(b"secret", b"1001&1700000000", hashlib.sha256).digest()).decode()
    assert sign("secret", "1001", "1700000000") == expected
    body = b'{"a":1}'
    message = f"1001&1700000000&{hashlib.sha256(body).hexdigest()}".encode()
    assert sign("secret", "1001", "1700000000", body) == base64.b64encode(
        hmac.new(b"secret", message, hashlib.sha256).digest()).decode()  # fmt: skip


def test_any_valid_secret_verifies_during_a_rotation_and_another_body_does_not() -> None:
    signed = sign("old", "1001", "1700000000", b"x")
    assert verify(["new", "old"], "1001", "1700000000", b"x", signed)
    assert not verify(["new"], "1001", "1700000000", b"x", signed)
    assert not verify(["new", "old"], "1001", "1700000000", b"y", signed)
    assert not verify(["new", "old"], "1001", "1700000001", b"x", signed)


def test_a_timestamp_counts_within_300_seconds_either_way_and_must_be_digits() -> None:
    now = 1_700_000_000.0
    assert [timestamp_fresh(str(int(now) + d), now) for d in (-300, 300, -301, 301)] == [True, True, False, False]
    assert not timestamp_fresh("1.7e9", now) and not timestamp_fresh("", now) and not timestamp_fresh("١٧", now)


def test_a_bucket_admits_its_burst_then_one_request_per_token() -> None:
    limiter = RateLimiter(default_rate_per_s=2.0, default_burst=3)
    assert [limiter.take("h", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("h", 0.0) == 0.5
    assert limiter.take("h", 0.5) == 0.0
    assert limiter.take("other", 0.5) == 0.0  # every credential has its own bucket
    assert retry_after(0.5) == "1" and retry_after(2.01) == "3"
