"""Payments on the real stack with a fixed clock: runs, short funds, penalties, replay, ledger."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest
from prometheus_client import REGISTRY

from services.payments.adapters.repository import account_balances
from services.payments.cli import hospital_report
from services.payments.entrypoints import monitor
from services.payments.entrypoints.monitor import check_deadlines
from services.payments.service import SPEC
from shared.calendar import add_working_days
from shared.clock import FixedClock
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
from tests.support.operators import approved, operators, sign
from tests.support.payments import payments_clock, payments_pool
from tests.support.services import Lane, running

pytestmark = pytest.mark.integration

AMOUNT = 7_654_321
RUN_DAY = date(2026, 3, 2)  # a Monday; the first payables fall due after Idul Fitri 2026


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[FixedClock]:
    yield from payments_clock(monkeypatch, datetime(2026, 3, 2, 3, 0, tzinfo=UTC))  # 10:00 in Jakarta


@pytest.fixture
async def payments_db(lane: Lane) -> AsyncIterator[asyncpg.Pool]:
    async with payments_pool(lane) as pool:
        yield pool


def verified(n: int, verified_on: date, seq: int = 0, amount: int = AMOUNT) -> ClaimVerified:
    return ClaimVerified(
        occurred_at=datetime.now(UTC),
        claim_id=f"PAY-TEST-{n:04d}",
        correlation_id=uuid.uuid4(),
        producer="verifier",
        payload=ClaimVerifiedPayload(
            revision=0, nomor_sep=f"0301R0010326V{n:06d}", kode_rs="0301R001", verification_seq=seq,
            verified_on=verified_on, claimed_amount=amount, approved_amount=amount,
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
        await lane.publish(approved(run_command("R-FULL", 100 * AMOUNT)))
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


# Five payables of one hospital, mixed amounts, two already late on RUN_DAY (2 Mar 2026).
# Due = verified_on + 15 working days (Feb 2026: 16 Feb cuti bersama, 17 Feb Imlek; Mar: 18-24 Idul Fitri weeks).
MIXED = [
    # A: verified Mon 2 Feb: 3,4,5,6,9,10,11,12,13,18,19,20,23,24,25 Feb -> due 25 Feb.
    ("PAY-TEST-0001", 12_000_000, date(2026, 2, 2), date(2026, 2, 25)),
    # B: verified 3 Feb: one working day later -> due 26 Feb.
    ("PAY-TEST-0002", 7_654_321, date(2026, 2, 3), date(2026, 2, 26)),
    # C: verified 23 Feb -> due 16 Mar (see test_enough_funds_pay_everything_on_time).
    ("PAY-TEST-0003", 25_000_000, date(2026, 2, 23), date(2026, 3, 16)),
    # D: verified 24 Feb: 25,26,27 Feb, 2,3,4,5,6,9,10,11,12,13,16,17 Mar -> due 17 Mar. Small and young.
    ("PAY-TEST-0004", 500_000, date(2026, 2, 24), date(2026, 3, 17)),
    # E: verified 25 Feb: 26,27 Feb, 2-6, 9-13, 16, 17 Mar, (18-24 skipped) 25 Mar -> due 25 Mar.
    ("PAY-TEST-0005", 3_000_000, date(2026, 2, 25), date(2026, 3, 25)),
]
LATER = date(2026, 4, 15)  # RUN_DAY + 44 days (29 left in March + 15 in April)
# What finance must receive, worked by hand (daily_pro_rata: amount x 1 % x days late / 30, half up):
# claim -> (run, penalty, total paid, days late, paid on)
EXPECTED_PAID = {
    # 25 Feb -> 2 Mar = 5 days: 120,000 x 5/30 = 20,000.
    "PAY-TEST-0001": ("R-SHORT", 20_000, 12_020_000, 5, RUN_DAY),
    # 26 Feb -> 2 Mar = 4 days: 76,543.21 x 4/30 = 10,205.76 -> 10,206.
    "PAY-TEST-0002": ("R-TOPUP", 10_206, 7_664_527, 4, RUN_DAY),
    # 16 Mar -> 15 Apr = 15 + 15 = 30 days: 250,000 x 30/30 = 250,000.
    "PAY-TEST-0003": ("R-REST", 250_000, 25_250_000, 30, LATER),
    # 17 Mar -> 15 Apr = 29 days: 5,000 x 29/30 = 4,833.33 -> 4,833.
    "PAY-TEST-0004": ("R-REST", 4_833, 504_833, 29, LATER),
    # 25 Mar -> 15 Apr = 6 + 15 = 21 days: 30,000 x 21/30 = 21,000.
    "PAY-TEST-0005": ("R-REST", 21_000, 3_021_000, 21, LATER),
}


async def test_short_funds_stop_at_the_oldest_payable_they_cannot_cover_penalty_included(
    lane: Lane, clock: FixedClock, payments_db: asyncpg.Pool
) -> None:
    claims = [verified(int(claim_id[-4:]), on, amount=amount) for claim_id, amount, on, _ in MIXED]
    spec = lane.isolate(SPEC)
    async with running(spec, lane.settings()):
        await lane.publish(claims)
        await eventually(lambda: _count(payments_db, "payables", 5))
        # R-SHORT: 19,684,526 = A's 12,020,000 + 7,664,526. That leaves 7,664,526: enough for B's amount
        # (7,654,321) but one rupiah short of B with its penalty (7,664,527). D (500,000) and E (3,000,000)
        # would fit, but the run stops at B: it never skips to a smaller, younger payable.
        await lane.publish(approved(run_command("R-SHORT", 19_684_526)))
        await eventually(lambda: run_applied(payments_db, "R-SHORT"))
        # R-TOPUP: exactly B with its penalty; C (25,000,000) is next and nothing is left.
        await lane.publish(approved(run_command("R-TOPUP", 7_664_527)))
        await eventually(lambda: run_applied(payments_db, "R-TOPUP"))
    due = {r["claim_id"]: r["due_on"] for r in await rows(payments_db, "SELECT claim_id, due_on FROM payables")}
    assert due == {claim_id: due_on for claim_id, _, _, due_on in MIXED}

    clock.advance(timedelta(days=44))
    async with running(spec, lane.settings()):
        await lane.publish(approved(run_command("R-REST", 10**12)))
        await eventually(lambda: run_applied(payments_db, "R-REST"))
        await eventually(lambda: _paid_events(lane, 5))

    runs = {
        r["run_id"]: (r["run_on"], r["paid_count"], r["paid_total"], r["remaining"])
        for r in await rows(payments_db, "SELECT * FROM payment_runs")
    }
    assert runs == {
        "R-SHORT": (RUN_DAY, 1, 12_020_000, 7_664_526),
        "R-TOPUP": (RUN_DAY, 1, 7_664_527, 0),
        # 25,250,000 + 504,833 + 3,021,000 = 28,775,833 paid of 10**12.
        "R-REST": (LATER, 3, 28_775_833, 999_971_224_167),
    }
    paid = [e for e in await lane.events("claims.paid") if isinstance(e, ClaimPaid)]
    assert len(paid) == 5
    got = {
        e.claim_id: (e.payload.payment_run_id, e.payload.penalty, e.payload.total_paid, e.payload.days_late,
                     e.payload.paid_on)
        for e in paid
    }  # fmt: skip
    assert got == EXPECTED_PAID
    assert {e.claim_id: e.payload.approved_amount for e in paid} == {c: a for c, a, _, _ in MIXED}
    # Penalties 20,000 + 10,206 + 250,000 + 4,833 + 21,000 = 306,039 on top of 48,154,321 owed.
    async with payments_db.acquire() as conn:
        balances = await account_balances(conn)
    assert balances == {
        "asset:cash:bpjs": -48_460_360,
        "expense:claims:fkrtl": 48_154_321,
        "expense:late-penalty": 306_039,
        "liability:payable:0301R001": 0,
    }


async def test_replaying_every_input_and_rerunning_a_run_id_pays_nothing_twice_and_the_ledger_balances(
    lane: Lane, clock: FixedClock, payments_db: asyncpg.Pool
) -> None:
    claims = hundred_claims()
    spec = lane.isolate(SPEC)
    async with running(spec, lane.settings()):
        await lane.publish(claims)
        await eventually(lambda: _count(payments_db, "payables", 100))
        first_run, approval = approved(run_command("R-ONCE", 100 * AMOUNT))
        await lane.publish([first_run, approval])
        await eventually(lambda: _paid_events(lane, 100))
        # Every input again: the same events (inbox) and new copies of them (new event ids, same claim/seq),
        # and the run requested again under the same run id.
        copies = [c.model_copy(update={"event_id": uuid.uuid4()}) for c in claims]
        again = sign(run_command("R-ONCE", 100 * AMOUNT))
        await lane.publish([*claims, *copies, first_run, approval, again])
        # The same keys with different content are refused by name, never silently ignored.
        changed = claims[0].model_copy(
            update={"event_id": uuid.uuid4(), "payload": claims[0].payload.model_copy(update={"approved_amount": 1})}
        )
        await lane.publish([changed, sign(run_command("R-ONCE", 1))])
        # A post-payment review (VEDIKA) recovers part of one claim: a new entry, sent twice, booked once.
        correction = sign(PaymentCorrectionRequested(
            occurred_at=datetime.now(UTC), claim_id=claims[1].claim_id, correlation_id=uuid.uuid4(), producer="test",
            payload=PaymentCorrectionRequestedPayload(
                correction_id="VEDIKA-1", verification_seq=0, recover_amount=450_000, reason="LOS", requested_by="t"
            ),
        ))  # fmt: skip
        again_correction = sign(correction.model_copy(update={"event_id": uuid.uuid4()}))
        await lane.publish([correction, operators().approval(correction), again_correction])
        marker = run_command("R-MARKER", 0)
        await lane.publish(approved(marker))
        await eventually(lambda: run_applied(payments_db, "R-MARKER"))
        await eventually(lambda: _dead_letters(lane, 2))
        await eventually(lambda: _applied(payments_db, again_correction.event_id))  # both copies handled
        # Resent events keep their event ids and leave no trace in the inbox: wait for the commits past them.
        await eventually(lambda: lane.consumed(spec))
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
    # 7,654,321 x 1 % = 76,543.21 a month: 1 day -> 2,551.44 -> 2,551; 9 days -> 22,962.96 -> 22,963.
    assert [(e.payload.days_late, e.payload.accrued_penalty) for e in overdue] == [(1, 2_551), (9, 22_963)]
    warnings = [
        e for e in await lane.events("payments.deadline-approaching") if isinstance(e, PaymentDeadlineApproaching)
    ]
    assert [(e.payload.as_of, e.payload.working_days_left) for e in warnings] == [(date(2026, 3, 11), 3)]
    assert add_working_days(date(2026, 2, 23), 15) == date(2026, 3, 16)


async def test_the_payables_gauges_follow_a_payment_run_the_same_day(
    lane: Lane, clock: FixedClock, payments_db: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The alerts' gauges drop once a run has paid, without waiting for the next midnight check."""
    monkeypatch.setattr(monitor, "GAUGE_REFRESH_S", 0.2)  # 60 s in production
    claims = [
        verified(1, date(2026, 2, 3)),  # due 26 Feb: 4 days late on RUN_DAY, penalty 10,206 (see EXPECTED_PAID)
        verified(2, date(2026, 2, 9)),  # due 4 Mar: 2 working days left, within the 3-day warning window
        verified(3, date(2026, 2, 23)),  # due 16 Mar: on track
    ]
    async with running(lane.isolate(SPEC), lane.settings()):
        await lane.publish(claims)  # after the start-up check: only the periodic refresh shows them
        await eventually(lambda: _gauges((3 * AMOUNT, 3, 1, 1, 10_206)))
        await lane.publish(approved(run_command("R-GAUGES", AMOUNT + 10_206 + AMOUNT)))  # the two oldest
        await eventually(lambda: run_applied(payments_db, "R-GAUGES"))
        await eventually(lambda: _gauges((AMOUNT, 1, 0, 0, 0)))
    paid = {
        r["claim_id"] for r in await rows(payments_db, "SELECT claim_id FROM payables WHERE payment_id IS NOT NULL")
    }
    assert paid == {"PAY-TEST-0001", "PAY-TEST-0002"}


async def _gauges(want: tuple[int, int, int, int, int]) -> bool:
    names = ("payables_outstanding_rupiah", "payables_outstanding", "payables_at_risk", "payables_overdue",
             "penalty_accrued_rupiah")  # fmt: skip
    return tuple(REGISTRY.get_sample_value(n) for n in names) == want


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
