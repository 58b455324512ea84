"""Who is calling, and may they: the body read within its limit, the VClaim-style signature, the rate limit.

A refusal never says which part failed (header missing, stale timestamp, unknown cons_id, wrong secret):
the caller learns only that the request does not authenticate.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.requests import Request

from services.gateway.adapters import repository
from services.gateway.adapters.sealing import SecretBox, UnreadableSecret
from services.gateway.domain import signature
from services.gateway.domain.principal import Caller
from services.gateway.domain.ratelimit import RateLimiter
from services.gateway.metrics import AUTH_FAILURES, RATE_LIMITED
from services.gateway.settings import GatewaySettings
from shared.db import Pool

_DECOY_SECRET = "decoy-secret-for-unknown-consumers"  # an unknown cons_id costs the same HMAC as a known one


class NotAuthenticated(Exception):
    """401: the request does not authenticate (which part failed is not said)."""


class TooLarge(Exception):
    """413: the body is over GATEWAY_MAX_BODY_BYTES."""


class RateLimited(Exception):
    """429: this credential's bucket is empty for `wait_s` more seconds."""

    def __init__(self, wait_s: float) -> None:
        super().__init__(f"rate limited for {wait_s:.2f} s")
        self.wait_s = wait_s


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused as soon as it is known to be over `limit` (by Content-Length, else while reading)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


@dataclass
class Credentials:
    """Credentials read from the database and kept `ttl_s` (secrets opened once per read)."""

    pool: Pool
    box: SecretBox
    ttl_s: float
    clock: Callable[[], float] = time.monotonic
    cache: dict[str, tuple[float, Caller | None, tuple[str, ...]]] = field(default_factory=dict)

    async def lookup(self, cons_id: str) -> tuple[Caller | None, tuple[str, ...]]:
        hit = self.cache.get(cons_id)
        now = self.clock()
        if hit is not None and hit[0] > now:
            return hit[1], hit[2]
        async with self.pool.acquire() as conn:
            row = await repository.hospital(conn, cons_id)
        caller: Caller | None = None
        secrets: tuple[str, ...] = ()
        if row is not None:
            caller = Caller(row.cons_id, "operator" if row.role == "operator" else "hospital", row.kode_rs, row.name,
                            row.kode_tarif, row.regional_tarif, row.rate_per_s, row.burst)  # fmt: skip
            opened = []
            for sealed in row.secrets:
                try:
                    opened.append(self.box.open(sealed))
                except UnreadableSecret:
                    continue  # sealed with a key no longer configured: that secret no longer signs anything
            secrets = tuple(opened)
        if len(self.cache) > 10_000:
            self.cache.clear()
        self.cache[cons_id] = (now + self.ttl_s, caller, secrets)
        return caller, secrets


@dataclass
class Authenticator:
    credentials: Credentials
    settings: GatewaySettings
    limiter: RateLimiter
    wall_clock: Callable[[], float] = time.time  # hospitals sign real UTC epoch seconds, whatever CLOCK_MODE says

    async def caller(self, request: Request, body: bytes | None) -> Caller:
        """The authenticated, admitted caller; `body` is signed for requests that have one (writes)."""
        h = request.headers
        cons_id, timestamp, given = h.get("x-cons-id", ""), h.get("x-timestamp", ""), h.get("x-signature", "")
        if not cons_id or not timestamp or not given or len(cons_id) > 64 or len(given) > 128:
            AUTH_FAILURES.inc()
            raise NotAuthenticated
        fresh = signature.timestamp_fresh(timestamp, self.wall_clock(), self.settings.timestamp_tolerance_s)
        caller, secrets = await self.credentials.lookup(cons_id)
        valid = signature.verify(secrets or (_DECOY_SECRET,), cons_id, timestamp, body, given)
        if caller is None or not secrets or not valid or not fresh:
            AUTH_FAILURES.inc()
            raise NotAuthenticated
        wait = self.limiter.take(cons_id, time.monotonic(), caller.rate_per_s, caller.burst)
        if wait > 0:
            RATE_LIMITED.labels(cons_id).inc()
            raise RateLimited(wait)
        return caller
