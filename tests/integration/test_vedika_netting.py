"""VEDIKA recoveries on the real broker and database: capped in total, netted from the next run, reconciled."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

from services.payments.adapters.repository import account_balances
from services.payments.cli import hospital_report
from services.payments.service import SPEC
from shared.clock import FixedClock
from shared.events import ClaimPaid, ClaimVerified, PaymentCorrectionRequested, PaymentCorrectionRequestedPayload
from shared.topics import dlq_topic
from tests.integration.test_payments_flow import run_applied, run_command, verified
from tests.support.kafka import eventually
from tests.support.operators import approved
from tests.support.payments import payments_clock, payments_pool
from tests.support.services import Lane, running

pytestmark = pytest.mark.integration

RS = "0301R001"
OTHER_RS = "0302R002"
VERIFIED_ON = date(2026, 2, 23)  # + 15 working days -> due 16 Mar 2026
FIRST_RUN = date(2026, 3, 2)
MARCH_VERIFIED = date(2026, 3, 9)  # due 7 Apr (Idul Fitri weeks skipped): on time on 1 Apr


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[FixedClock]:
    yield from payments_clock(monkeypatch, datetime(2026, 3, 2, 3, 0, tzinfo=UTC))  # 10:00 in Jakarta on FIRST_RUN


@pytest.fixture
async def payments_db(lane: Lane) -> AsyncIterator[asyncpg.Pool]:
    async with payments_pool(lane) as pool:
        yield pool


def at(kode_rs: str, event: ClaimVerified) -> ClaimVerified:
    return event.model_copy(update={"payload": event.payload.model_copy(update={"kode_rs": kode_rs})})


def correction(claim_id: str, correction_id: str, amount: int) -> PaymentCorrectionRequested:
    return PaymentCorrectionRequested(
        occurred_at=datetime.now(UTC), claim_id=claim_id, correlation_id=uuid.uuid4(), producer="test",
        payload=PaymentCorrectionRequestedPayload(
            correction_id=correction_id, verification_seq=0, recover_amount=amount, reason="LOS not supported",
            requested_by="t",
        ),
    )  # fmt: skip


async def dead_letters(lane: Lane) -> list[tuple[str, str]]:
    out = []
    for rec in await lane.records(dlq_topic("payments.commands")):
        headers = {k: v.decode() for k, v in rec.headers}
        out.append((headers["dlq.error"], headers["dlq.reason"]))
    return out


async def booked(pool: asyncpg.Pool, entry_id: str) -> bool:
    return bool(await pool.fetchval("SELECT true FROM ledger_entries WHERE entry_id = $1", entry_id))


async def test_two_60_percent_corrections_never_recover_more_than_was_paid_and_the_next_run_nets_the_recovery(
    lane: Lane, clock: FixedClock, payments_db: asyncpg.Pool
) -> None:
    spec = lane.isolate(SPEC)
    a, b = verified(1, VERIFIED_ON, amount=10_000_000), verified(2, VERIFIED_ON, amount=4_000_000)
    async with running(spec, lane.settings()):
        await lane.publish([a, b])
        await eventually(lambda: _payables(payments_db, 2))  # another topic than the run request
        await lane.publish(approved(run_command("R-MARCH", 14_000_000)))
        await eventually(lambda: run_applied(payments_db, "R-MARCH"))
        # Two VEDIKA findings of 60 % each on claim A (10,000,000 paid): the first is booked (6,000,000);
        # the second would bring the recoveries to 12,000,000 > 10,000,000 and is refused by name.
        await lane.publish(approved(correction(a.claim_id, "VEDIKA-A-1", 6_000_000)))
        await eventually(lambda: booked(payments_db, "LE-CORR-VEDIKA-A-1"))
        await lane.publish(approved(correction(a.claim_id, "VEDIKA-A-2", 6_000_000)))
        await eventually(lambda: _dead_letter_count(lane, 1))
        # What is really left (4,000,000 -> 10,000,000 in total, exactly what was paid) is accepted.
        await lane.publish(approved(correction(a.claim_id, "VEDIKA-A-3", 4_000_000)))
        await eventually(lambda: booked(payments_db, "LE-CORR-VEDIKA-A-3"))
        # ... and nothing more, not even 1 rupiah.
        await lane.publish(approved(correction(a.claim_id, "VEDIKA-A-4", 1)))
        await eventually(lambda: _dead_letter_count(lane, 2))

    [(error, reason), (error_again, _)] = await dead_letters(lane)
    assert (error, error_again) == ("correction-exceeds-paid", "correction-exceeds-paid")
    assert "recover_amount 6000000 plus 6000000 already recovered" in reason
    assert "exceeds the amount paid 10000000" in reason

    # April: the hospital has two new claims (5,000,000 and 7,000,000), another hospital one (2,000,000).
    # The hospital owes back 10,000,000: all of D and 5,000,000 of E are netted, 2,000,000 of E is paid in cash.
    clock.advance(timedelta(days=30))  # 1 Apr 2026
    # E is verified a day after D, so D is due first (7 Apr, E 8 Apr) and is netted first.
    d, e = (
        verified(4, MARCH_VERIFIED, amount=5_000_000),
        verified(5, MARCH_VERIFIED + timedelta(days=1), amount=7_000_000),
    )
    other = at(OTHER_RS, verified(6, MARCH_VERIFIED, amount=2_000_000))
    async with running(spec, lane.settings()):
        await lane.publish([d, e, other])
        await eventually(lambda: _payables(payments_db, 5))
        # The funds need cover only the cash: 2,000,000 for E and 2,000,000 for the other hospital.
        await lane.publish(approved(run_command("R-APRIL", 4_000_000)))
        await eventually(lambda: run_applied(payments_db, "R-APRIL"))
        await eventually(lambda: _paid(lane, 5))

    paid = {ev.claim_id: ev.payload for ev in await lane.events("claims.paid") if isinstance(ev, ClaimPaid)}
    april = {c: (p.approved_amount, p.total_paid, p.recovered_amount, p.net_paid) for c, p in paid.items()
             if p.payment_run_id == "R-APRIL"}  # fmt: skip
    assert april == {
        d.claim_id: (5_000_000, 5_000_000, 5_000_000, 0),
        e.claim_id: (7_000_000, 7_000_000, 5_000_000, 2_000_000),
        other.claim_id: (2_000_000, 2_000_000, 0, 2_000_000),  # never netted against another hospital's debt
    }
    assert paid[a.claim_id].net_paid == 10_000_000 and paid[a.claim_id].recovered_amount == 0
    run = await payments_db.fetchrow(
        "SELECT paid_count, paid_total, remaining FROM payment_runs WHERE run_id = 'R-APRIL'"
    )
    assert run is not None and tuple(run) == (3, 4_000_000, 0)

    async with payments_db.acquire() as conn:
        balances = await account_balances(conn)
        march = await hospital_report(conn, RS, "2026-03")
        april_report = await hospital_report(conn, RS, "2026-04")
    # Cash out: 14,000,000 in March, 4,000,000 in April. The hospital's receivable is settled.
    assert balances["asset:cash:bpjs"] == -18_000_000
    assert balances[f"asset:receivable:{RS}"] == 0
    assert balances[f"liability:payable:{RS}"] == 0
    # Claims expense: 10,000,000 + 4,000,000 - 10,000,000 recovered + 5,000,000 + 7,000,000 + 2,000,000.
    assert balances["expense:claims:fkrtl"] == 18_000_000
    assert sum(balances.values()) == 0

    m = march["summary"]
    # March: 14,000,000 paid in cash; the two corrections (6,000,000 + 4,000,000) are booked; nothing recovered yet.
    assert (m["paid_amount"], m["net_cash_paid"], m["recovered_amount"]) == (14_000_000, 14_000_000, 0)
    assert (m["opening_receivable"], m["corrections_booked"], m["closing_receivable"]) == (0, 10_000_000, 10_000_000)
    assert m["reconciles"]
    p = april_report["summary"]
    # April: opening 12,000,000 owed (D, E verified 9 and 10 Mar) + 0 verified - 12,000,000 paid = 0;
    # of the 12,000,000, 10,000,000 was netted and 2,000,000 paid in cash; the receivable 10,000,000 -> 0.
    assert (p["opening_outstanding"], p["verified_amount"], p["paid_amount"], p["closing_outstanding"]) == (
        12_000_000, 0, 12_000_000, 0,
    )  # fmt: skip
    assert (p["recovered_amount"], p["net_cash_paid"]) == (10_000_000, 2_000_000)
    assert (p["opening_receivable"], p["corrections_booked"], p["closing_receivable"]) == (10_000_000, 0, 0)
    assert p["reconciles"]
    assert json.dumps(april_report, default=str)  # the CLI prints it as JSON


async def _dead_letter_count(lane: Lane, n: int) -> bool:
    return len(await lane.records(dlq_topic("payments.commands"))) >= n


async def _paid(lane: Lane, n: int) -> bool:
    return len(await lane.records("claims.paid")) >= n


async def _payables(pool: asyncpg.Pool, n: int) -> bool:
    return int(await pool.fetchval("SELECT count(*) FROM payables")) >= n
