"""An upheld dispute on the real stack: the supplementary payable is due on the original date and pays its penalty."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime

import asyncpg
import pytest

from services.payments.service import SPEC
from shared.clock import FixedClock
from shared.events import ClaimPaid
from tests.integration.test_payments_flow import run_applied, run_command, verified
from tests.support.kafka import eventually
from tests.support.operators import approved
from tests.support.payments import payments_clock, payments_pool
from tests.support.services import Lane, running

pytestmark = pytest.mark.integration

MAIN_VERIFIED = date(2026, 2, 25)  # + 15 working days -> due 25 Mar 2026 (see test_payments_flow MIXED "E")
ORIGINAL_DUE = date(2026, 3, 25)
UPHELD_ON = date(2026, 4, 20)  # its own 15 working days would end 12 May (1 May is a holiday)
PAID_ON = date(2026, 5, 4)  # 40 calendar days after 25 Mar


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[FixedClock]:
    yield from payments_clock(monkeypatch, datetime(2026, 5, 4, 3, 0, tzinfo=UTC))  # 10:00 in Jakarta on PAID_ON


@pytest.fixture
async def payments_db(lane: Lane) -> AsyncIterator[asyncpg.Pool]:
    async with payments_pool(lane) as pool:
        yield pool


async def _payables(pool: asyncpg.Pool, n: int) -> bool:
    return int(await pool.fetchval("SELECT count(*) FROM payables")) >= n


async def test_an_upheld_dispute_paid_40_days_after_the_original_due_date_carries_the_whole_penalty(
    lane: Lane, clock: FixedClock, payments_db: asyncpg.Pool
) -> None:
    main = verified(7, MAIN_VERIFIED, amount=20_000_000)
    supplementary = verified(7, UPHELD_ON, seq=1, amount=10_000_000)
    # A second claim whose supplementary arrives before its main verification (out of order).
    early_supplementary = verified(8, UPHELD_ON, seq=1, amount=3_000_000)
    late_main = verified(8, MAIN_VERIFIED, amount=6_000_000)
    async with running(lane.isolate(SPEC), lane.settings()):
        await lane.publish([main, supplementary, early_supplementary])
        await eventually(lambda: _payables(payments_db, 3))
        await lane.publish([late_main])
        await eventually(lambda: _payables(payments_db, 4))
        # Enough for all four (39,000,000 owed plus 40 days of penalty on each).
        await lane.publish(approved(run_command("R-DISPUTE", 60_000_000)))
        await eventually(lambda: run_applied(payments_db, "R-DISPUTE"))
        await eventually(lambda: _paid(lane, 4))
    due = {
        (r["claim_id"], r["verification_seq"]): r["due_on"]
        for r in await payments_db.fetch("SELECT claim_id, verification_seq, due_on FROM payables")
    }
    assert due == {
        ("PAY-TEST-0007", 0): ORIGINAL_DUE,
        ("PAY-TEST-0007", 1): ORIGINAL_DUE,  # not 12 May
        ("PAY-TEST-0008", 0): ORIGINAL_DUE,
        ("PAY-TEST-0008", 1): ORIGINAL_DUE,  # moved back when its main verification arrived
    }
    paid = {
        (e.claim_id, e.payload.verification_seq): e.payload
        for e in await lane.events("claims.paid")
        if isinstance(e, ClaimPaid)
    }
    upheld = paid[("PAY-TEST-0007", 1)]
    assert upheld.due_on == ORIGINAL_DUE
    assert upheld.days_late == 40
    # 10,000,000 x 1 % x 40 / 30 = 133,333.33 -> 133,333.
    assert upheld.penalty == 133_333
    assert upheld.total_paid == 10_133_333
    # 3,000,000 x 1 % x 40 / 30 = 40,000.
    assert paid[("PAY-TEST-0008", 1)].penalty == 40_000


async def _paid(lane: Lane, n: int) -> bool:
    return len(await lane.records("claims.paid")) >= n
