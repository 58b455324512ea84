"""Deadline enforcement and the daily payment schedule, both on the configured clock.

The payables gauges (payables_at_risk, payables_overdue, penalty_accrued_rupiah and the outstanding pair)
are also refreshed every GAUGE_REFRESH_S seconds of real time on every instance, with one read of the
open payables: the alerts take their max() over instances, so after a run pays (a consumer's approved run
on any instance, or the scheduled one) each instance's gauges must drop, not only the paying one's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import structlog

from services.payments import metrics
from services.payments.adapters import repository as repo
from services.payments.adapters.unit_of_work import PaymentsUnitOfWork
from services.payments.application.runs import RunOrder, execute_run
from services.payments.domain.notices import NoticeKind, deadline_on, notice_due
from services.payments.domain.penalty import late_penalty
from services.payments.entrypoints.consumer import config
from services.payments.entrypoints.reconciler import gate_of
from services.payments.settings import PaymentsSettings, get_payments_settings
from shared.calendar import WorkingCalendar, get_calendar
from shared.clock import Clock, next_local_time, sleep_until
from shared.db import advisory_key
from shared.envelopes import originate
from shared.events import (
    PaymentDeadlineApproaching,
    PaymentDeadlineApproachingPayload,
    PaymentOverdue,
    PaymentOverduePayload,
)
from shared.outbox import Tx
from shared.policy_types import PenaltyMethod
from shared.runtime import ServiceContext

log = structlog.get_logger(__name__)
PRODUCER = "payments"
# Real seconds, not clock time: a demo clock 1440 times faster must not turn this into 24 reads a second.
# A paid run clears the payables alerts within a minute and a scrape (tests shorten it).
GAUGE_REFRESH_S = 60.0


@dataclass(frozen=True)
class PayablesGauges:
    """What the payables gauges show on a day: computed from the open payables alone."""

    outstanding_rupiah: int
    outstanding: int
    at_risk: int
    overdue: int
    accrued_penalty: int

    def publish(self) -> None:
        metrics.OUTSTANDING_RUPIAH.set(self.outstanding_rupiah)
        metrics.OUTSTANDING_COUNT.set(self.outstanding)
        metrics.OVERDUE_COUNT.set(self.overdue)
        metrics.AT_RISK_COUNT.set(self.at_risk)
        metrics.ACCRUED_PENALTY_RUPIAH.set(self.accrued_penalty)


def payables_gauges(
    payables: Iterable[repo.PayableRow], today: date, cal: WorkingCalendar, warn_days: int, method: PenaltyMethod
) -> PayablesGauges:
    """At risk within `warn_days` working days of due; overdue after it, with the penalty owed if paid today."""
    amount = count = at_risk = overdue = accrued = 0
    for p in payables:
        amount += p.amount
        count += 1
        deadline = deadline_on(p.due_on, today, cal, warn_days)
        if deadline.state == "overdue":
            overdue += 1
            accrued += late_penalty(p.amount, p.due_on, today, method)
        elif deadline.state == "at_risk":
            at_risk += 1
    return PayablesGauges(amount, count, at_risk, overdue, accrued)


async def refresh_gauges(ctx: ServiceContext, today: date, warn_days: int) -> PayablesGauges:
    """The gauges from one read of the open payables: no lock, no transaction, a run is never waited for."""
    async with ctx.pool.acquire() as conn:
        payables = await repo.open_payables(conn)
    gauges = payables_gauges(payables, today, get_calendar(), warn_days, ctx.settings.policy.penalty_method)
    gauges.publish()
    return gauges


async def check_deadlines(ctx: ServiceContext, today: date, warn_days: int) -> tuple[int, int]:
    """Publish deadline-approaching and overdue notices due today (each once) and refresh the gauges."""
    cal = get_calendar()
    method = ctx.settings.policy.penalty_method
    approaching = overdue = 0
    async with ctx.pool.acquire() as conn, conn.transaction():
        # Serialised with payment runs: a payable paid by a run is never reported overdue after its payment.
        await conn.execute("SELECT pg_advisory_xact_lock($1)", advisory_key(f"{ctx.schema}:payment-run"))
        tx = Tx(conn, ctx.schema)
        payables = await repo.open_payables(conn)
        working_day = cal.is_working_day(today)
        for p in payables:
            deadline = deadline_on(p.due_on, today, cal, warn_days)
            if deadline.state == "on_track":
                continue
            kind: NoticeKind = "overdue" if deadline.state == "overdue" else "approaching"
            penalty = late_penalty(p.amount, p.due_on, today, method) if kind == "overdue" else 0
            noticed_before = await repo.has_notice(conn, p.id, kind)
            if notice_due(deadline, working_day, noticed_before) is None:
                continue
            if not await repo.claim_notice(conn, p.id, kind, today):
                continue  # already sent today (a restart, another instance)
            if kind == "overdue":
                tx.emit(_overdue(ctx, p, today, penalty, method))
                overdue += 1
            else:
                tx.emit(_approaching(ctx, p, today, deadline.working_days_left))
                approaching += 1
        await tx.flush()
    payables_gauges(payables, today, cal, warn_days, method).publish()
    return approaching, overdue


def _overdue(
    ctx: ServiceContext, p: repo.PayableRow, today: date, penalty: int, method: PenaltyMethod
) -> PaymentOverdue:
    payload = PaymentOverduePayload(
        nomor_sep=p.nomor_sep, kode_rs=p.kode_rs, verification_seq=p.verification_seq, amount=p.amount,
        due_on=p.due_on, as_of=today, days_late=(today - p.due_on).days, accrued_penalty=penalty,
        penalty_method=method,
    )  # fmt: skip
    return originate(
        PaymentOverdue, payload, producer=PRODUCER, clock=ctx.clock, claim_id=p.claim_id,
        correlation_id=p.correlation_id,
    )  # fmt: skip


def _approaching(ctx: ServiceContext, p: repo.PayableRow, today: date, left: int) -> PaymentDeadlineApproaching:
    payload = PaymentDeadlineApproachingPayload(
        nomor_sep=p.nomor_sep, kode_rs=p.kode_rs, verification_seq=p.verification_seq, amount=p.amount,
        due_on=p.due_on, as_of=today, working_days_left=left,
    )  # fmt: skip
    return originate(
        PaymentDeadlineApproaching, payload, producer=PRODUCER, clock=ctx.clock, claim_id=p.claim_id,
        correlation_id=p.correlation_id,
    )  # fmt: skip


async def scheduled_run(ctx: ServiceContext, today: date) -> str | None:
    """Today's scheduled run, paying at most what finance allocated for today (two operators); else nothing.

    Run in the service's own transaction (no command on the topic: nobody but finance may publish one),
    under run id SCHED-<date>, so a second instance or a restart the same day pays nothing twice.
    """
    run_id = f"SCHED-{today.isoformat()}"
    async with ctx.pool.acquire() as conn, conn.transaction():
        if await repo.run_summary(conn, run_id) is not None:
            log.info("scheduled payment run already done today", run_id=run_id)  # a restart, another instance
            return run_id
        funds = await repo.day_funds(conn, today)
        if funds is None:
            metrics.SCHEDULED_RUNS_UNFUNDED.inc()
            log.warning("scheduled payment run pays nothing: no funds allocated for today", business_date=str(today),
                        rule="FUNDS-ALLOCATED")  # fmt: skip
            return None
        tx = Tx(conn, ctx.schema, ctx.settings.broker.max_output_bytes)
        uow = PaymentsUnitOfWork(tx)
        order = RunOrder(run_id, funds.amount, funds.allocated_by, funds.approved_by, None)
        await execute_run(config(ctx), uow, order)
        await uow.flush()
        await tx.flush()
    return run_id


async def monitor(ctx: ServiceContext) -> None:
    """Every business day just after midnight (and at start-up): notices and gauges; in between, every
    GAUGE_REFRESH_S seconds, the gauges alone, so they follow the payment runs (and new payables)."""
    settings: PaymentsSettings = get_payments_settings()
    warn_days = settings.deadline_warning_working_days
    check_at = ctx.clock.now()  # at start-up
    while True:
        await gate_of(ctx).wait()  # a payment the database forgot (a restore) is not overdue: reconciled first
        today = ctx.clock.today()
        if ctx.clock.now() >= check_at:
            approaching, overdue = await check_deadlines(ctx, today, warn_days)
            if approaching or overdue:
                log.info("deadline notices", as_of=str(today), approaching=approaching, overdue=overdue)
            check_at = next_local_time(ctx.clock.now(), ctx.settings.policy.business_timezone, timedelta(minutes=1))
        else:
            await refresh_gauges(ctx, today, warn_days)
        await wait_until_or(ctx.clock, check_at, GAUGE_REFRESH_S)


async def wait_until_or(clock: Clock, instant: datetime, seconds: float) -> None:
    """Until `clock` reads `instant` (the clock's time: a test's fixed clock moves it) or `seconds` of real time."""
    due = asyncio.ensure_future(sleep_until(clock, instant))
    try:
        await asyncio.wait({due}, timeout=seconds)
    finally:
        due.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await due


async def scheduler(ctx: ServiceContext) -> None:
    """The daily payment run at `schedule_time` on working days, from the funds allocated for the day."""
    settings = get_payments_settings()
    if not settings.schedule_enabled:
        return
    at = timedelta(hours=settings.schedule_time.hour, minutes=settings.schedule_time.minute)
    while True:
        zone = ctx.settings.policy.business_timezone
        await sleep_until(ctx.clock, next_local_time(ctx.clock.now(), zone, at))
        today = ctx.clock.today()
        if get_calendar().is_working_day(today):
            await gate_of(ctx).wait()  # kept waiting, not skipped, until reconciled with claims.paid
            run_id = await scheduled_run(ctx, today)
            log.info("scheduled payment run done", run_id=run_id, business_date=str(today))
            # Committed: this instance's gauges drop at once (the others' within GAUGE_REFRESH_S).
            await refresh_gauges(ctx, today, settings.deadline_warning_working_days)
