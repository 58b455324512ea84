"""The payables gauges between midnight checks: what they count, and the monitor's wait for its next refresh.

Weekends only in the calendar (no holidays): April 2026 — Mon 13, Tue 14, Wed 15, Thu 16, Fri 17, Sat 18.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta

from services.payments.adapters.repository import PayableRow
from services.payments.entrypoints.monitor import PayablesGauges, payables_gauges, wait_until_or
from shared.calendar import HolidayKind, WorkingCalendar
from shared.clock import FixedClock


def no_holidays(year: int) -> dict[date, tuple[HolidayKind, str]]:
    return {}


CAL = WorkingCalendar(overrides=[], library=no_holidays)


def payable(n: int, amount: int, due_on: date) -> PayableRow:
    return PayableRow(
        n, f"C-{n}", 0, f"SEP-{n}", "0301R001", amount, due_on - timedelta(days=21), due_on, uuid.uuid4(), uuid.uuid4()
    )


def test_overdue_at_risk_and_on_track_payables_are_counted_apart() -> None:
    open_payables = [
        payable(1, 3_000_000, date(2026, 4, 10)),  # due Fri 10: 4 days late on Tue 14
        payable(2, 1_000_000, date(2026, 4, 16)),  # Wed, Thu: 2 working days left, window 3
        payable(3, 2_000_000, date(2026, 4, 20)),  # Wed, Thu, Fri, Mon: 4 left, on track
    ]
    gauges = payables_gauges(open_payables, date(2026, 4, 14), CAL, 3, "daily_pro_rata")
    # 3,000,000 x 1 % x 4 / 30 = 4,000.
    assert gauges == PayablesGauges(6_000_000, 3, 1, 1, 4_000)


def test_nothing_open_is_all_zero() -> None:
    assert payables_gauges([], date(2026, 4, 14), CAL, 3, "daily_pro_rata") == PayablesGauges(0, 0, 0, 0, 0)


async def test_the_wait_ends_when_the_clock_reaches_the_instant() -> None:
    clock = FixedClock(datetime(2026, 4, 13, 16, 59, tzinfo=UTC))
    midnight = datetime(2026, 4, 13, 17, 1, tzinfo=UTC)  # 00:01 in Jakarta
    waiting = asyncio.create_task(wait_until_or(clock, midnight, 3600))
    await asyncio.sleep(0)
    assert not waiting.done()
    clock.set(midnight)
    await asyncio.wait_for(waiting, 5)  # long before the hour of real time


async def test_the_wait_ends_after_the_refresh_interval_when_the_clock_stands_still() -> None:
    clock = FixedClock(datetime(2026, 4, 13, 3, 0, tzinfo=UTC))
    await asyncio.wait_for(wait_until_or(clock, datetime(2026, 4, 13, 17, 1, tzinfo=UTC), 0.01), 5)
    assert clock.now() == datetime(2026, 4, 13, 3, 0, tzinfo=UTC)
