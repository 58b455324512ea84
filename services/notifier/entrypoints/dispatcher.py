"""The dispatcher: sends due deliveries, records every attempt, retries with backoff, dead-letters.

It runs beside the consumer (a background task), never inside its transaction. Each round
it leases due deliveries (`FOR UPDATE SKIP LOCKED`, a lease per row), sends them
concurrently (a bound overall and per receiver), and settles each attempt in one
transaction: attempt row + delivered / retry at / dead (+ dead letter + operator alert).
A crashed instance's leases expire and any instance resumes them; a delivered row is
never sent again. It wakes on NOTIFY from new deliveries, on a finished attempt, or when
the next retry falls due on the service clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import structlog

from services.notifier import metrics
from services.notifier.adapters import repository
from services.notifier.adapters.egress import Egress, Resolver, guarded_client, system_resolver
from services.notifier.adapters.sealing import secret_box
from services.notifier.adapters.smtp import SmtpSender
from services.notifier.adapters.webhook import WebhookSender
from services.notifier.application import plan
from services.notifier.domain.model import AttemptResult, ClaimedDelivery
from services.notifier.domain.notices import FailedDelivery
from services.notifier.domain.retry import Delivered, GiveUp, Random, RetryAt, RetryPolicy, next_step
from services.notifier.domain.routing import DELIVERY_FAILED, redact_target
from services.notifier.settings import NotifierSettings
from shared.clock import Clock, sleep_until
from shared.db import Conn, Pool

log = structlog.get_logger(__name__)

Sender = Callable[[ClaimedDelivery], Awaitable[AttemptResult]]
LISTEN_RETRY_S = 30.0


class Dispatcher:
    """Sends the deliveries of one notifier schema."""

    def __init__(
        self,
        pool: Pool,
        schema: str,
        clock: Clock,
        settings: NotifierSettings,
        senders: Mapping[str, Sender],
        *,
        dsn: str | None = None,
        rand: Random = random.random,
    ) -> None:
        self._pool = pool
        self._schema = schema
        self._clock = clock
        self._s = settings
        self._senders = senders
        self._dsn = dsn
        self._rand = rand
        self._policy = RetryPolicy(settings.max_attempts, settings.backoff_base_s, settings.backoff_max_s)
        self._tasks: set[asyncio.Task[None]] = set()
        self._held: dict[int, uuid.UUID] = {}  # delivery id -> lease token, while its attempt runs
        self._wake = asyncio.Event()
        self._listener: asyncpg.Connection | None = None
        self._next_listen = 0.0

    async def run(self) -> None:
        """Dispatch until cancelled; then stop attempts and hand their deliveries back."""
        try:
            while True:
                self._wake.clear()
                try:
                    await self._ensure_listener()
                    started = await self.dispatch_once()
                    if started and len(self._tasks) < self._s.concurrency:
                        continue  # rows another instance held may be free now: look again before waiting
                    await self._idle()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the database may be away for a while: keep trying
                    log.warning("dispatcher round failed, retrying", error=repr(exc))
                    await asyncio.sleep(self._s.poll_interval_s)
        finally:
            await self._shutdown()

    async def dispatch_once(self) -> int:
        """Lease what is due into the free slots and start sending it; returns how many started."""
        free = self._s.concurrency - len(self._tasks)
        if free <= 0:
            return 0
        claimed = await repository.claim_due(
            self._pool,
            now=self._clock.now(),
            limit=free,
            per_subscription=self._s.per_subscription_concurrency,
            lease_s=self._s.lease_s,
            token=uuid.uuid4(),
        )
        for delivery in claimed:
            self._held[delivery.id] = delivery.lease_token
            task = asyncio.create_task(self._attempt(delivery), name=f"notifier-delivery-{delivery.id}")
            self._tasks.add(task)
            task.add_done_callback(self._finished)
        return len(claimed)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._wake.set()

    # ------------------------------------------------------------------ one attempt

    async def _attempt(self, delivery: ClaimedDelivery) -> None:
        sender = self._senders.get(delivery.channel)
        started_at = self._clock.now()
        t0 = time.monotonic()
        try:
            if sender is None:
                result = AttemptResult("failed", error=f"no sender for channel {delivery.channel}")
            else:
                result = await sender(delivery)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a sender bug must not lose the delivery: retry it
            log.exception("sender raised", delivery_id=delivery.id)
            result = AttemptResult("retry", error=f"{type(exc).__name__}: {exc}"[:500])
        elapsed = time.monotonic() - t0
        metrics.ATTEMPTS.labels(delivery.channel, result.outcome).inc()
        metrics.LATENCY.labels(delivery.channel).observe(elapsed)
        try:
            await self._settle(delivery, started_at, int(elapsed * 1000), result)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the row keeps its lease: it is tried again when the lease expires
            log.error("attempt not recorded, lease expiry will retry", delivery_id=delivery.id, error=repr(exc))
        self._held.pop(delivery.id, None)

    async def _settle(self, d: ClaimedDelivery, started_at: datetime, latency_ms: int, result: AttemptResult) -> None:
        now = self._clock.now()
        step = next_step(result, d.attempt, self._policy, now, self._rand)
        fields: dict[str, Any] = {
            "delivery_id": d.id,
            "event_id": str(d.event_id),
            "event_type": d.event_type,
            "claim_id": d.claim_id,
            "subscription_id": d.subscription_id,
            "attempt": d.attempt,
            "status_code": result.status_code,
        }
        async with self._pool.acquire() as conn, conn.transaction():
            await repository.record_attempt(conn, d, started_at, latency_ms, result)
            if isinstance(step, Delivered):
                owned = await repository.mark_delivered(conn, d, now)
                log.info("delivered", latency_ms=latency_ms, **fields)
            elif isinstance(step, RetryAt):
                owned = await repository.schedule_retry(conn, d, step.at, result.error)
                log.info("delivery will be retried", delay_s=round(step.delay_s, 3), error=result.error, **fields)
            else:
                owned = await repository.mark_dead(conn, d, now, step.reason)
                if owned:
                    await self._alert(conn, d, step, now, fields)
        if not owned:
            log.warning("lease lost before the attempt was settled (another instance resumed it)", **fields)

    async def _alert(self, conn: Conn, d: ClaimedDelivery, step: GiveUp, now: datetime, fields: dict[str, Any]) -> None:
        """Dead: log it and tell the operators' channel (never about a failed alert: that would loop)."""
        metrics.DEAD.labels(d.channel).inc()
        log.error("delivery dead-lettered, operators alerted", reason=step.reason, **fields)
        if d.event_type == DELIVERY_FAILED:
            return
        failed = FailedDelivery(
            delivery_id=d.id,
            event_id=d.event_id,
            event_type=d.event_type,
            claim_id=d.claim_id,
            kode_rs=d.kode_rs,
            subscription_id=d.subscription_id,
            channel=d.channel,
            receiver=redact_target(d.channel, d.target),
            attempts=d.attempt,
            last_error=step.reason,
            failed_at=now,
        )
        await plan(conn, self._schema, failed, now)

    # ------------------------------------------------------------------ waiting

    async def _idle(self) -> None:
        """Wait for a wake-up (new deliveries, a finished attempt) or the next due instant on the clock."""
        now = self._clock.now()
        horizon = now + timedelta(seconds=self._s.poll_interval_s)
        due = await repository.next_wakeup(self._pool)
        if due is not None and due <= now:
            # Due but not startable now (every slot, or this receiver's share, is busy): a finished attempt wakes us.
            await self._wait_or_wake(asyncio.sleep(self._s.poll_interval_s))
        else:
            await self._wait_or_wake(sleep_until(self._clock, min(due, horizon) if due else horizon))

    async def _wait_or_wake(self, waiting: Coroutine[Any, Any, Any]) -> None:
        sleeper = asyncio.ensure_future(waiting)
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (sleeper, waker):
                t.cancel()

    async def _ensure_listener(self) -> None:
        """LISTEN for new deliveries (best effort: polling covers a lost connection)."""
        if self._dsn is None or (self._listener is not None and not self._listener.is_closed()):
            return
        if time.monotonic() < self._next_listen:
            return
        self._next_listen = time.monotonic() + LISTEN_RETRY_S
        try:
            conn: asyncpg.Connection = await asyncpg.connect(
                self._dsn, timeout=5, server_settings={"application_name": f"{self._schema}-dispatcher"}
            )
            await conn.add_listener(repository.wake_channel(self._schema), self._on_notify)
            self._listener = conn
        except Exception as exc:
            log.warning("cannot LISTEN for new deliveries; polling", error=repr(exc))

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def _shutdown(self) -> None:
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        by_token: dict[uuid.UUID, list[int]] = {}
        for delivery_id, token in self._held.items():
            by_token.setdefault(token, []).append(delivery_id)
        with contextlib.suppress(Exception):
            for token, ids in by_token.items():
                await asyncio.wait_for(repository.release(self._pool, ids, token, self._clock.now()), 5)
        self._held.clear()
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()


async def run_dispatcher(
    pool: Pool,
    schema: str,
    clock: Clock,
    settings: NotifierSettings,
    dsn: str | None,
    *,
    resolver: Resolver = system_resolver,
) -> None:
    """The dispatcher with the real senders (guarded httpx for webhooks, aiosmtplib for e-mail)."""
    box = secret_box(settings)  # no key: this raises, and the notifier says why
    async with pool.acquire() as conn, conn.transaction():
        sealed = await repository.seal_clear_secrets(conn, box.seal, clock.now())
    if sealed:
        log.warning("webhook secrets stored in clear were sealed", subscriptions=sealed)
    egress = Egress(settings.allow_list(), resolver)
    async with guarded_client(egress, settings.webhook_timeout_s) as client:
        senders: dict[str, Sender] = {
            "webhook": WebhookSender(client, clock, settings.webhook_timeout_s, box),
            "email": SmtpSender(settings, clock),
        }
        await Dispatcher(pool, schema, clock, settings, senders, dsn=dsn).run()
