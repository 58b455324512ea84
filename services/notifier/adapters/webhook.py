"""Webhook delivery: one signed JSON POST per attempt (httpx), classified for the retry policy."""

from __future__ import annotations

import asyncio

import httpx

from services.notifier.domain.model import AttemptResult, ClaimedDelivery
from services.notifier.domain.retry import classify_http, parse_retry_after
from services.notifier.domain.signature import webhook_headers
from shared.clock import Clock

ERROR_SNIPPET_BYTES = 300


class WebhookSender:
    """POSTs a delivery's stored body to its subscription's URL, signed with its secret."""

    def __init__(self, client: httpx.AsyncClient, clock: Clock, timeout_s: float) -> None:
        self._client = client
        self._clock = clock
        self._timeout_s = timeout_s

    async def __call__(self, delivery: ClaimedDelivery) -> AttemptResult:
        """One attempt; never raises for what the receiver or the network did."""
        if delivery.body is None or not delivery.secret:
            return AttemptResult("failed", error="webhook delivery without a body or a signing secret")
        headers = webhook_headers(
            delivery.secret,
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
