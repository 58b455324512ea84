"""VClaim-style request signatures (no I/O).

VClaim signs `"{cons_id}&{timestamp}"` with the consumer secret: base64(HMAC-SHA256(secret, message)), the
timestamp in UTC epoch seconds (BPJS VClaim catalogue, "Signature"; e.g. Voxtmault/bpjs
pkg/services/bpjs-security_service.go). The gateway binds a write's body too: for a request with a body the
message is `"{cons_id}&{timestamp}&{hex sha256 of the body}"`, so a captured write cannot be replayed with
another body. A timestamp outside ±TOLERANCE of the gateway's clock is refused, and an exact replay inside
the window is answered from the idempotency table, never applied twice.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable

DEFAULT_TOLERANCE_S = 300


def message(cons_id: str, timestamp: str, body: bytes | None) -> bytes:
    """What is signed: cons_id & timestamp, and for a request with a body the body's hex SHA-256."""
    parts = [cons_id, timestamp]
    if body is not None:
        parts.append(hashlib.sha256(body).hexdigest())
    return "&".join(parts).encode()


def sign(secret: str, cons_id: str, timestamp: str, body: bytes | None = None) -> str:
    """The X-signature a client sends."""
    digest = hmac.new(secret.encode(), message(cons_id, timestamp, body), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def timestamp_fresh(timestamp: str, now: float, tolerance_s: int = DEFAULT_TOLERANCE_S) -> bool:
    """An integer epoch-seconds timestamp within ±tolerance of now."""
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        return False
    return abs(int(timestamp) - now) <= tolerance_s


def verify(secrets: Iterable[str], cons_id: str, timestamp: str, body: bytes | None, signature: str) -> bool:
    """Whether `signature` was made with any of the valid secrets (constant-time comparison each)."""
    given = signature.encode()
    ok = False
    for secret in secrets:  # every secret is tried, so the time taken does not tell which one matched
        ok |= hmac.compare_digest(sign(secret, cons_id, timestamp, body).encode(), given)
    return ok
