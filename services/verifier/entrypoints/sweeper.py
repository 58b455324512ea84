"""The verifier's own deadlines, on the configured clock: deemed complete, pend expiry, reminders.

The sweep judges the absence of an input: no decision by day 10 (deemed complete), no resubmission
by resubmit_by (expired). Deadlines are judged on receipt time, so an input received before the
day's end may still be in the backlog when the sweep runs: the sweep of day `on` waits until every
consumer group in VERIFIER_SWEEP_WAITS_FOR has applied everything that was on its topics after the
cut-off (end offsets snapshotted then, committed offsets compared with them), upstream groups first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date, timedelta, tzinfo
from functools import partial
from typing import Protocol, TypeVar
from zoneinfo import ZoneInfo

import structlog

from services.verifier import metrics
from services.verifier.adapters import repository as repo
from services.verifier.adapters.progress import BrokerProgress
from services.verifier.adapters.unit_of_work import VerifierUnitOfWork
from services.verifier.application import make_verifier
from services.verifier.domain.deadlines import Calendar, completeness_date
from services.verifier.domain.policy import VerificationPolicy
from services.verifier.domain.states import UNDECIDED, ClaimState
from services.verifier.domain.timing import Partition, SweepGate, backlog, cut_off, sweep_gate
from services.verifier.settings import get_verifier_settings
from shared.calendar import get_calendar
from shared.clock import Clock, next_local_time, sleep_until
from shared.outbox import Tx
from shared.runtime import ServiceContext, resolve_endpoints

log = structlog.get_logger(__name__)
CHUNK = 200
DEADLINE_GAUGES_EVERY_S = 300.0  # decisions made during the day take claims off the at-risk gauges
Sleep = Callable[[float], Awaitable[None]]
T = TypeVar("T")


class Progress(Protocol):
    """Where consumer groups are on the broker (BrokerProgress; a fake in tests)."""

    async def end_offsets(self, topics: Sequence[str]) -> dict[Partition, int]: ...

    async def committed(self, group: str, partitions: Sequence[Partition]) -> dict[Partition, int]: ...


async def sweep_day(ctx: ServiceContext, on: date) -> int:
    """Sweep every open claim for the end of business day `on`; returns how many moved.

    No catch-up check here: callers that drive the whole system (the simulator, tests) know it is
    quiescent; the background sweeper calls `sweep_when_caught_up`.
    """
    verifier = make_verifier(ctx.settings.policy, ctx.clock)
    async with ctx.pool.acquire() as conn:
        claim_ids = await repo.sweepable(conn)
    moved = 0
    todo = list(claim_ids)
    while todo:  # bounded transactions: a big backlog never holds locks long
        chunk, todo = todo[:CHUNK], todo[CHUNK:]
        async with ctx.pool.acquire() as conn, conn.transaction():
            tx = Tx(conn, ctx.schema)
            # The consumer's lock order (SEP locks sorted, then claim rows sorted) so the two never deadlock.
            seps = await repo.seps_of(conn, chunk)
            await repo.lock_in_order(conn, seps.values(), chunk)
            # A resubmission may have moved a claim to another SEP before its row lock was granted: sweeping
            # it now would take that SEP's lock out of order, so it is swept in a later chunk instead.
            moved_sep = [c for c, sep in (await repo.seps_of(conn, chunk)).items() if sep != seps.get(c)]
            uow = VerifierUnitOfWork(tx)
            await uow.claims.load(chunk)
            correlations = await repo.correlations_of(conn, chunk)
            for claim_id in chunk:
                if claim_id in moved_sep:
                    continue
                if await verifier.sweep(uow, claim_id, on, correlations.get(claim_id)):
                    moved += 1
            await uow.flush()
            await tx.flush()
        todo += moved_sep
    async with ctx.pool.acquire() as conn:
        metrics.REVIEW_QUEUE.set(len(await repo.review_queue(conn)))
    metrics.SWEPT.inc(moved)
    return moved


async def wait_until_caught_up(
    on: date,
    clock: Clock,
    zone: tzinfo,
    progress: Progress,
    stages: Mapping[str, Sequence[str]],
    *,
    retry_s: float,
    sleep: Sleep = asyncio.sleep,
) -> SweepGate:
    """Return once every group in `stages` (in order) has applied what its topics held after `on` ended."""
    await sleep_until(clock, cut_off(on, zone))
    gate = SweepGate(on, True, "caught-up")
    for group, topics in stages.items():
        # Snapshot after the previous stage caught up: what it forwarded is then on this stage's topics.
        end = await _retrying(partial(progress.end_offsets, topics), on, group, retry_s, sleep)
        taken_at = clock.now()
        while True:
            committed = await _retrying(partial(progress.committed, group, list(end)), on, group, retry_s, sleep)
            gate = sweep_gate(on, taken_at, zone, backlog(group, end, committed))
            metrics.SWEEP_BACKLOG.labels(group).set(sum(lag.records for lag in gate.lags))
            if gate.open:
                break
            metrics.SWEEP_DEFERRED.labels(gate.why).inc()
            log.info(
                "sweep waits for input received before the cut-off", on=str(on), group=group,
                behind={f"{lag.topic}/{lag.partition}": lag.records for lag in gate.lags}, retry_in_s=retry_s,
            )  # fmt: skip
            await sleep(retry_s)
    return gate


async def _retrying(read: Callable[[], Awaitable[T]], on: date, group: str, retry_s: float, sleep: Sleep) -> T:
    """A broker read, retried while it fails: a sweep never runs on progress it could not read."""
    while True:
        try:
            return await read()
        except Exception as exc:
            metrics.SWEEP_DEFERRED.labels("progress-unknown").inc()
            log.warning("sweep cannot read consumer progress", on=str(on), group=group, error=repr(exc))
            await sleep(retry_s)


async def sweep_when_caught_up(
    on: date,
    clock: Clock,
    zone: tzinfo,
    progress: Progress,
    stages: Mapping[str, Sequence[str]],
    sweep: Callable[[date], Awaitable[int]],
    *,
    retry_s: float,
    sleep: Sleep = asyncio.sleep,
) -> int:
    """Sweep day `on` once no input received by its end is still in flight; returns how many moved."""
    await wait_until_caught_up(on, clock, zone, progress, stages, retry_s=retry_s, sleep=sleep)
    return await sweep(on)


def deadlines_at_risk(
    rows: Sequence[tuple[str, date | None, date | None, int]], today: date, cal: Calendar, policy: VerificationPolicy
) -> tuple[dict[str, int], int]:
    """From (state, submitted_on, resubmit_by, claims) of the open claims: the undecided ones per state that
    the sweep at the end of `today` deems complete, and the pended ones whose last day to resubmit is
    within `reminder_working_days` working days of `today` (those the hospital has been reminded of)."""
    deemed = {str(s): 0 for s in sorted(UNDECIDED)}
    expiring = 0
    horizon = cal.add_working_days(today, policy.reminder_working_days)
    for state, submitted_on, resubmit_by, claims in rows:
        if state in deemed and submitted_on is not None and completeness_date(cal, submitted_on, policy) <= today:
            deemed[state] += claims
        elif state == ClaimState.PENDED and resubmit_by is not None and resubmit_by <= horizon:
            expiring += claims
    return deemed, expiring


async def refresh_deadline_gauges(ctx: ServiceContext, today: date) -> None:
    """Set verifier_deemed_complete_tomorrow and verifier_pends_expiring (what the deadline alerts read)."""
    async with ctx.pool.acquire() as conn:
        found = await conn.fetch(
            """SELECT state, status->>'submitted_on' AS submitted_on, status->>'resubmit_by' AS resubmit_by,
                      count(*) AS claims
               FROM claims WHERE state IN ('grouped', 'resubmitted', 'in_review', 'pended') GROUP BY 1, 2, 3"""
        )
    rows = [(r["state"], _day(r["submitted_on"]), _day(r["resubmit_by"]), int(r["claims"])) for r in found]
    policy = make_verifier(ctx.settings.policy, ctx.clock).policy
    deemed, expiring = deadlines_at_risk(rows, today, get_calendar(), policy)
    for state, claims in deemed.items():
        metrics.DEEMED_COMPLETE_TOMORROW.labels(state).set(claims)
    metrics.PENDS_EXPIRING.set(expiring)


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


async def deadline_gauges(ctx: ServiceContext, every_s: float = DEADLINE_GAUGES_EVERY_S) -> None:
    """Refresh the deadline gauges every few real minutes (a failed read keeps the last values)."""
    while True:
        try:
            await refresh_deadline_gauges(ctx, ctx.clock.today())
        except Exception as exc:
            log.warning("deadline gauges not refreshed", error=repr(exc))
        await asyncio.sleep(every_s)


async def sweeper(ctx: ServiceContext) -> None:
    """At start-up and a few minutes after every local midnight, sweep the day that just ended.

    Beside it, the deadline gauges are refreshed every few minutes.
    """
    gauges = asyncio.create_task(deadline_gauges(ctx), name="verifier-deadline-gauges")
    try:
        await _sweep_daily(ctx)
    finally:
        gauges.cancel()


async def _sweep_daily(ctx: ServiceContext) -> None:
    settings = get_verifier_settings()
    bootstrap, _ = resolve_endpoints(ctx.settings)
    progress = BrokerProgress(bootstrap, ctx.settings.broker.topic_prefix)
    zone_name = ctx.settings.policy.business_timezone
    zone = ZoneInfo(zone_name)
    while True:
        on = ctx.clock.today() - timedelta(days=1)
        moved = await sweep_when_caught_up(
            on, ctx.clock, zone, progress, settings.sweep_waits_for, lambda d: sweep_day(ctx, d),
            retry_s=settings.sweep_retry_s,
        )  # fmt: skip
        if moved:
            log.info("daily sweep", on=str(on), moved=moved)
        await sleep_until(ctx.clock, next_local_time(ctx.clock.now(), zone_name, timedelta(minutes=5)))
