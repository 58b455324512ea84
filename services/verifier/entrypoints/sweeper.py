"""The verifier's own deadlines, on the configured clock: deemed complete, pend expiry, reminders."""

from __future__ import annotations

from datetime import date, timedelta

import structlog

from services.verifier import metrics
from services.verifier.adapters import repository as repo
from services.verifier.entrypoints.handlers import Verifier, sweep_claim, verification_policy
from shared.clock import next_local_time, sleep_until
from shared.outbox import Tx
from shared.runtime import ServiceContext

log = structlog.get_logger(__name__)
CHUNK = 200


async def sweep_day(ctx: ServiceContext, on: date) -> int:
    """Sweep every open claim for the end of business day `on`; returns how many moved."""
    verifier = Verifier(verification_policy(ctx.settings.policy), ctx.clock)
    async with ctx.pool.acquire() as conn:
        claim_ids = await repo.sweepable(conn)
    moved = 0
    for start in range(0, len(claim_ids), CHUNK):  # bounded transactions: a big backlog never holds locks long
        async with ctx.pool.acquire() as conn, conn.transaction():
            tx = Tx(conn, ctx.schema)
            for claim_id in claim_ids[start : start + CHUNK]:
                corr = await repo.correlation_of(conn, claim_id)
                if await sweep_claim(tx, verifier, claim_id, on, corr) is not None:
                    moved += 1
            await tx.flush()
    async with ctx.pool.acquire() as conn:
        metrics.REVIEW_QUEUE.set(len(await repo.review_queue(conn)))
    metrics.SWEPT.inc(moved)
    return moved


async def sweeper(ctx: ServiceContext) -> None:
    """At start-up and a few minutes after every local midnight, sweep the day that just ended."""
    while True:
        today = ctx.clock.today()
        moved = await sweep_day(ctx, today - timedelta(days=1))
        if moved:
            log.info("daily sweep", on=str(today - timedelta(days=1)), moved=moved)
        zone = ctx.settings.policy.business_timezone
        await sleep_until(ctx.clock, next_local_time(ctx.clock.now(), zone, timedelta(minutes=5)))
