"""Webhook signatures: HMAC-SHA256 over `timestamp + "." + body`, sent as `X-JKN-Signature: v1=<hex>`.

Receivers recompute the HMAC with their secret over the raw body bytes, compare in
constant time, and refuse timestamps outside the replay window (5 minutes). While a
secret is being rotated the header carries one `v1=` value per signing secret, newest
first, comma-separated (`v1=<new>, v1=<old>`): a receiver holding either secret accepts.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

SCHEME = "v1"
REPLAY_WINDOW_S = 300

TIMESTAMP_HEADER = "X-JKN-Timestamp"
SIGNATURE_HEADER = "X-JKN-Signature"
EVENT_TYPE_HEADER = "X-JKN-Event-Type"
DELIVERY_HEADER = "X-JKN-Delivery-Id"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value: `v1=` + hex HMAC-SHA256(secret, f"{timestamp}." + body)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{SCHEME}={mac.hexdigest()}"


def verify(
    secret: str, timestamp: str, signature: str, body: bytes, *, now: float, window_s: float = REPLAY_WINDOW_S
) -> bool:
    """True when `signature` (one or more comma-separated `v1=` values) signs `body` at a fresh `timestamp`."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs(now - ts) > window_s:
        return False
    expected = sign(secret, ts, body)
    return any(hmac.compare_digest(expected, candidate.strip()) for candidate in signature.split(","))


def signature_header(secrets: Sequence[str], timestamp: int, body: bytes) -> str:
    """One `v1=` signature per signing secret (newest first), comma-separated."""
    if isinstance(secrets, str) or not secrets:  # a bare str would sign with each of its characters
        raise ValueError("sign with a non-empty list of secrets")
    return ", ".join(sign(secret, timestamp, body) for secret in secrets)


def webhook_headers(
    secrets: Sequence[str], *, timestamp: int, body: bytes, event_id: str, event_type: str, delivery_id: int
) -> dict[str, str]:
    """Every header of one webhook POST, signed with every secret in `secrets`."""
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "jkn-notifier/1",
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature_header(secrets, timestamp, body),
        IDEMPOTENCY_HEADER: event_id,
        EVENT_TYPE_HEADER: event_type,
        DELIVERY_HEADER: str(delivery_id),
    }
