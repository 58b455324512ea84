"""Webhook delivery: one signed JSON POST per attempt (httpx), classified for the retry policy.

The client is adapters/egress.py's: the destination is resolved and checked again on
every connection, and a refused destination is a final failure recorded before any
connection is made.
"""

from __future__ import annotations

import asyncio

import httpx

from services.notifier.adapters.egress import DestinationRefused
from services.notifier.adapters.sealing import SecretBox, UnreadableSecret
from services.notifier.domain.model import AttemptResult, ClaimedDelivery
from services.notifier.domain.retry import classify_http, parse_retry_after
from services.notifier.domain.signature import webhook_headers
from shared.clock import Clock

ERROR_SNIPPET_BYTES = 300


class WebhookSender:
    """POSTs a delivery's stored body to its subscription's URL, signed with each of its signing secrets."""

    def __init__(self, client: httpx.AsyncClient, clock: Clock, timeout_s: float, box: SecretBox) -> None:
        self._client = client
        self._clock = clock
        self._timeout_s = timeout_s
        self._box = box

    async def __call__(self, delivery: ClaimedDelivery) -> AttemptResult:
        """One attempt; never raises for what the receiver or the network did."""
        if delivery.body is None or not delivery.sealed_secrets:
            return AttemptResult("failed", error="webhook delivery without a body or a signing secret")
        try:
            secrets = [self._box.open(sealed) for sealed in delivery.sealed_secrets]
        except UnreadableSecret as exc:
            return AttemptResult("failed", error=str(exc))
        headers = webhook_headers(
            secrets,
            timestamp=int(self._clock.now().timestamp()),
            body=delivery.body,
            event_id=str(delivery.event_id),
            event_type=delivery.event_type,
            delivery_id=delivery.id,
        )
        try:
            async with (
                asyncio.timeout(self._timeout_s),  # the whole exchange, not each phase
                self._client.stream("POST", delivery.target, content=delivery.body, headers=headers) as resp,
            ):
                outcome = classify_http(resp.status_code)
                if outcome == "delivered":
                    return AttemptResult("delivered", resp.status_code)
                snippet = await _read_some(resp)
                retry_after = parse_retry_after(resp.headers.get("retry-after"), self._clock.now())
        except DestinationRefused as exc:  # checked at connection time: nothing was sent
            return AttemptResult("failed", error=f"destination refused before connecting: {exc}")
        except (TimeoutError, httpx.TimeoutException):
            return AttemptResult("retry", error=f"timeout after {self._timeout_s:g} s")
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            return AttemptResult("failed", error=f"{type(exc).__name__}: {exc}")
        except httpx.HTTPError as exc:  # connection refused, reset, protocol errors: the receiver may come back
            return AttemptResult("retry", error=f"{type(exc).__name__}: {exc}"[:500])
        error = f"HTTP {resp.status_code}" + (f": {snippet}" if snippet else "")
        return AttemptResult(outcome, resp.status_code, error, retry_after if outcome == "retry" else None)


async def _read_some(resp: httpx.Response) -> str:
    """The start of a response body, for the log (a receiver's error page can be large)."""
    buf = b""
    async for chunk in resp.aiter_bytes():
        buf += chunk
        if len(buf) >= ERROR_SNIPPET_BYTES:
            break
    return " ".join(buf[:ERROR_SNIPPET_BYTES].decode("utf-8", "replace").split())
