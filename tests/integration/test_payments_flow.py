"""Payments on the real stack with a fixed clock: runs, short funds, penalties, replay, ledger."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

from deploy.local import Stack
from services.payments.cli import hospital_report
from services.payments.domain.penalty import late_penalty
from services.payments.entrypoints.monitor import check_deadlines
from services.payments.service import SPEC
from services.payments.settings import get_payments_settings
from shared import db
from shared.calendar import add_working_days
from shared.clock import FixedClock, set_clock
from shared.events import (
    ClaimPaid,
    ClaimVerified,
    ClaimVerifiedPayload,
    PaymentCorrectionRequested,
    PaymentCorrectionRequestedPayload,
    PaymentDeadlineApproaching,
    PaymentOverdue,
    PaymentRunRequested,
    PaymentRunRequestedPayload,
)
from tests.support.kafka import eventually
from tests.support.services import Lane, new_lane, running

pytestmark = pytest.mark.integration

AMOUNT = 7_654_321
RUN_DAY = date(2026, 3, 2)  # a Monday; the first payables fall due after Idul Fitri 2026


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[FixedClock]:
    monkeypatch.setenv("PAYMENTS_SCHEDULE_ENABLED", "false")  # runs happen when the test asks
    get_payments_settings.cache_clear()
    fixed = FixedClock(datetime(2026, 3, 2, 3, 0, tzinfo=UTC))  # 10:00 in Jakarta
    set_clock(fixed)
    yield fixed
    set_clock(None)
    get_payments_settings.cache_clear()


@pytest.fixture
async def lane(stack: Stack) -> Lane:
    return await new_lane(stack)


@pytest.fixture
async def payments_db(lane: Lane) -> AsyncIterator[asyncpg.Pool]:
    spec = lane.isolate(SPEC)
    await db.migrate(lane.stack.database_url, spec.schema, *([spec.migrations] if spec.migrations else []))
    pool = await db.create_pool(lane.stack.database_url, spec.schema)
    yield pool
    await pool.close()


def verified(n: int, verified_on: date, seq: int = 0) -> ClaimVerified:
    return ClaimVerified(
        occurred_at=datetime.now(UTC),
        claim_id=f"PAY-TEST-{n:04d}",
        correlation_id=uuid.uuid4(),
        producer="verifier",
        payload=ClaimVerifiedPayload(
            revision=0, nomor_sep=f"0301R0010326V{n:06d}", kode_rs="0301R001", verification_seq=seq,
            verified_on=verified_on, claimed_amount=AMOUNT, approved_amount=AMOUNT,
        ),
    )  # fmt: skip


def run_command(run_id: str, funds: int) -> PaymentRunRequested:
    return PaymentRunRequested(
        occurred_at=datetime.now(UTC),
        correlation_id=uuid.uuid4(),
        producer="test",
        payload=PaymentRunRequestedPayload(run_id=run_id, funds=funds, requested_by="finance.test"),
    )


def hundred_claims() -> list[ClaimVerified]:
    """100 claims verified on the four working days before RUN_DAY's week (25 a day)."""
    days = [date(2026, 2, 23), date(2026, 2, 24), date(2026, 2, 25), date(2026, 2, 26)]
    return [verified(i, days[i % 4]) for i in range(100)]


async def rows(pool: asyncpg.Pool, sql: str, *args: object) -> list[asyncpg.Record]:
    return list(await pool.fetch(sql, *args))


async def run_applied(pool: asyncpg.Pool, run_id: str) -> bool:
    return bool(await pool.fetchval("SELECT true FROM payment_runs WHERE run_id = $1", run_id))


async def test_enough_funds_pay_everything_on_time(lane: Lane, clock: FixedClock, payments_db: asyncpg.Pool) -> None:
    claims = hundred_claims()
    async with running(lane.isolate(SPEC), lane.settings()):
        await lane.publish(claims)
        await eventually(lambda: _count(payments_db, "payables", 100))
        await lane.publish([run_command("R-FULL", 100 * AMOUNT)])
        await eventually(lambda: run_applied(payments_db, "R-FULL"))
        await eventually(lambda: _paid_events(lane, 100))
    paid = [e for e in await lane.events("claims.paid") if isinstance(e, ClaimPaid)]
    assert len(paid) == 100
    assert {e.claim_id for e in paid} == {c.claim_id for c in claims}
    for e in paid:
        assert e.payload.penalty == 0
        assert e.payload.days_late == 0
        assert e.payload.total_paid == AMOUNT
        assert e.payload.paid_on == RUN_DAY
        assert e.payload.paid_on <= e.payload.due_on
        assert e.payload.payment_run_id == "R-FULL"
    # Finance's reconciliation for the hospital's March: nothing owed before, everything paid in March.
    async with payments_db.acquire() as conn:
        february = await hospital_report(conn, "0301R001", "2026-02")
        march = await hospital_report(conn, "0301R001", "2026-03")
    assert february["summary"]["verified_amount"] == 100 * AMOUNT
    assert february["summary"]["closing_outstanding"] == 100 * AMOUNT
    assert march["summary"]["opening_outstanding"] == 100 * AMOUNT
    assert march["summary"]["paid_amount"] == 100 * AMOUNT
    assert march["summary"]["closing_outstanding"] == 0
    assert march["summary"]["reconciles"] and february["summary"]["reconciles"]
    assert len(march["lines"]) == 100
    # Due dates come from the working-day calendar: 23 Feb 2026 + 15 working days.
    due = {r["claim_id"]: r["due_on"] for r in await rows(payments_db, "SELECT claim_id, due_on FROM payables")}
    assert due["PAY-TEST-0000"] == date(2026, 3, 16)  # 24,25,26,27 Feb, 2,3,4,5,6,9,10,11,12,13,16 Mar


async def test_short_funds_pay_the_oldest_half_and_the_rest_later_with_exact_penalties(
    lane: Lane, clock: FixedClock, payments_db: asyncpg.Pool
) -> None:
    claims = hundred_claims()
    spec = lane.isolate(SPEC)
    async with running(spec, lane.settings()):
        await lane.publish(claims)
        await eventually(lambda: _count(payments_db, "payables", 100))
        await lane.publish([run_command("R-HALF", 50 * AMOUNT + AMOUNT // 2)])
        await eventually(lambda: run_applied(payments_db, "R-HALF"))

    half = await rows(
        payments_db,
        """SELECT p.due_on, p.verified_on, x.payment_id IS NOT NULL AS paid
           FROM payables p LEFT JOIN payments x ON x.payable_id = p.id""",
    )
    paid_first = [r for r in half if r["paid"]]
    unpaid = [r for r in half if not r["paid"]]
    assert len(paid_first) == 50
    assert max((r["due_on"], r["verified_on"]) for r in paid_first) <= min(
        (r["due_on"], r["verified_on"]) for r in unpaid
    ), "a younger payable was paid before an older one"

    clock.advance(timedelta(days=40))
    later = RUN_DAY + timedelta(days=40)
    async with running(spec, lane.settings()):
        await lane.publish([run_command("R-REST", 10**12)])
        await eventually(lambda: run_applied(payments_db, "R-REST"))
        await eventually(lambda: _paid_events(lane, 100))

    paid = {e.claim_id: e for e in await lane.events("claims.paid") if isinstance(e, ClaimPaid)}
    rest = [e for e in paid.values() if e.payload.payment_run_id == "R-REST"]
    assert len(rest) == 50
    for e in rest:
        p = e.payload
        assert p.paid_on == later
        assert p.days_late == (later - p.due_on).days > 0
        assert p.penalty == late_penalty(AMOUNT, p.due_on, later, "daily_pro_rata")
        assert p.penalty > 0
        assert p.total_paid == AMOUNT + p.penalty


async def test_replaying_every_input_and_rerunning_a_run_id_pays_nothing_twice_and_the_ledger_balances(
    lane: Lane, clock: FixedClock, payments_db: asyncpg.Pool
) -> None:
    claims = hundred_claims()
    spec = lane.isolate(SPEC)
    async with running(spec, lane.settings()):
        await lane.publish(claims)
        await eventually(lambda: _count(payments_db, "payables", 100))
        first_run = run_command("R-ONCE", 100 * AMOUNT)
        await lane.publish([first_run])
        await eventually(lambda: _paid_events(lane, 100))
        # Every input again: the same events (inbox) and new copies of them (new event ids, same claim/seq),
        # and the run requested again under the same run id.
        copies = [c.model_copy(update={"event_id": uuid.uuid4()}) for c in claims]
        again = run_command("R-ONCE", 100 * AMOUNT)
        await lane.publish([*claims, *copies, first_run, again])
        # The same keys with different content are refused by name, never silently ignored.
        changed = claims[0].model_copy(
            update={"event_id": uuid.uuid4(), "payload": claims[0].payload.model_copy(update={"approved_amount": 1})}
        )
        await lane.publish([changed, run_command("R-ONCE", 1)])
        # A post-payment review (VEDIKA) recovers part of one claim: a new entry, sent twice, booked once.
        correction = PaymentCorrectionRequested(
            occurred_at=datetime.now(UTC), claim_id=claims[1].claim_id, correlation_id=uuid.uuid4(), producer="test",
            payload=PaymentCorrectionRequestedPayload(
                correction_id="VEDIKA-1", verification_seq=0, recover_amount=450_000, reason="LOS", requested_by="t"
            ),
        )  # fmt: skip
        again_correction = correction.model_copy(update={"event_id": uuid.uuid4()})
        await lane.publish([correction, again_correction])
        marker = run_command("R-MARKER", 0)
        await lane.publish([marker])
        await eventually(lambda: run_applied(payments_db, "R-MARKER"))
        await eventually(lambda: _dead_letters(lane, 2))
        await eventually(lambda: _applied(payments_db, again_correction.event_id))  # both copies handled
    assert await payments_db.fetchval("SELECT count(*) FROM payables") == 100
    assert await payments_db.fetchval("SELECT count(*) FROM payments") == 100
    paid = [e for e in await lane.events("claims.paid") if isinstance(e, ClaimPaid)]
    assert len(paid) == 100
    assert len({(e.claim_id, e.payload.verification_seq) for e in paid}) == 100

    balances = {
        r["account"]: r["balance"]
        for r in await rows(
            payments_db,
            """SELECT account, sum(amount)::bigint AS balance FROM (
                 SELECT debit_account AS account, amount FROM ledger_entries
                 UNION ALL SELECT credit_account, -amount FROM ledger_entries) e GROUP BY account""",
        )
    }
    assert sum(balances.values()) == 0
    assert balances["liability:payable:0301R001"] == 0  # owed and paid
    assert balances["asset:cash:bpjs"] == -100 * AMOUNT
    assert balances["asset:receivable:0301R001"] == 450_000  # the VEDIKA recovery, booked once
    assert balances["expense:claims:fkrtl"] == 100 * AMOUNT - 450_000
    assert await payments_db.fetchval("SELECT count(*) FROM payments") == 100  # the payment itself untouched
    (refused_verification,) = await lane.records("claims.verified.dlq")
    assert dict(refused_verification.headers)["dlq.error"] == b"conflicting-approved_amount"
    (refused_run,) = await lane.records("payments.commands.dlq")
    assert dict(refused_run.headers)["dlq.error"] == b"conflicting-funds"
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await payments_db.execute("UPDATE ledger_entries SET amount = 0")


async def test_overdue_notices_once_then_each_working_day_with_the_accrued_penalty(
    lane: Lane, clock: FixedClock, payments_db: asyncpg.Pool
) -> None:
    claim = verified(1, date(2026, 2, 23))  # due 16 Mar 2026
    spec = lane.isolate(SPEC)
    async with running(spec, lane.settings()) as runtime:
        await lane.publish([claim])
        await eventually(lambda: _count(payments_db, "payables", 1))
        assert runtime.ctx is not None
        for day in (date(2026, 3, 10), date(2026, 3, 11), date(2026, 3, 12), date(2026, 3, 11)):
            await check_deadlines(runtime.ctx, day, 3)  # 3 working days before 16 Mar: 11 Mar (12, 13, 16)
        for day in (date(2026, 3, 17), date(2026, 3, 17), date(2026, 3, 18), date(2026, 3, 25)):
            await check_deadlines(runtime.ctx, day, 3)
        await eventually(lambda: _outbox_drained(payments_db))  # every notice emitted is on the broker
    overdue = [e for e in await lane.events("payments.overdue") if isinstance(e, PaymentOverdue)]
    # 17 Mar once (checked twice), 18 Mar (cuti bersama: not a working day, no notice), 25 Mar.
    assert [e.payload.as_of for e in overdue] == [date(2026, 3, 17), date(2026, 3, 25)]
    for e in overdue:
        assert e.payload.accrued_penalty == late_penalty(AMOUNT, date(2026, 3, 16), e.payload.as_of, "daily_pro_rata")
    warnings = [
        e for e in await lane.events("payments.deadline-approaching") if isinstance(e, PaymentDeadlineApproaching)
    ]
    assert [(e.payload.as_of, e.payload.working_days_left) for e in warnings] == [(date(2026, 3, 11), 3)]
    assert add_working_days(date(2026, 2, 23), 15) == date(2026, 3, 16)


async def _count(pool: asyncpg.Pool, table: str, n: int) -> bool:
    return int(await pool.fetchval(f"SELECT count(*) FROM {table}")) >= n


async def _paid_events(lane: Lane, n: int) -> bool:
    return len(await lane.records("claims.paid")) >= n


async def _applied(pool: asyncpg.Pool, event_id: uuid.UUID) -> bool:
    return bool(await pool.fetchval("SELECT true FROM inbox WHERE event_id = $1", event_id))


async def _dead_letters(lane: Lane, n: int) -> bool:
    letters = await lane.records("claims.verified.dlq") + await lane.records("payments.commands.dlq")
    return len(letters) >= n


async def _outbox_drained(pool: asyncpg.Pool) -> bool:
    return int(await pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")) == 0


async def test_due_dates_across_the_2026_idul_fitri_weeks(
    lane: Lane, clock: FixedClock, payments_db: asyncpg.Pool
) -> None:
    """Holidays and cuti bersama 18-24 Mar and Good Friday 3 Apr 2026 are skipped (DOMAIN.md, SKB 1497/2025)."""
    cases = {
        # 16,17 | 18 cuti, 19 Nyepi, 20 cuti, 21-22 Idul Fitri (weekend), 23-24 cuti | 25,26,27,30,31 Mar,
        # 1,2 Apr | 3 Good Friday | 6,7,8,9,10,13 Apr: the 15th working day is 13 Apr
        date(2026, 3, 13): date(2026, 4, 13),
        # 25,26,27,30,31 Mar, 1,2,6,7,8,9,10,13,14,15 Apr
        date(2026, 3, 17): date(2026, 4, 15),
        # 26,27,30,31 Mar, 1,2,6,7,8,9,10,13,14,15,16 Apr
        date(2026, 3, 25): date(2026, 4, 16),
    }
    async with running(lane.isolate(SPEC), lane.settings()):
        await lane.publish([verified(i, day) for i, day in enumerate(cases)])
        await eventually(lambda: _count(payments_db, "payables", len(cases)))
    due = {r["verified_on"]: r["due_on"] for r in await rows(payments_db, "SELECT verified_on, due_on FROM payables")}
    assert due == cases
