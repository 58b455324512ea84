"""Late-payment penalty: hand-computed tables per method, and properties."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.payments.domain.penalty import PENALTY_METHODS, days_late, late_penalty


def d(text: str) -> date:
    """Short literal dates for the tables."""
    return date.fromisoformat(text)


M = 1_000_000  # the usual amount owed in the tables: 1 % of it is 10_000

# (amount, due_on, paid_on, expected). d = calendar days late.
DAILY_PRO_RATA = [
    (M, d("2025-04-01"), d("2025-03-20"), 0),  # paid early
    (M, d("2025-04-01"), d("2025-04-01"), 0),  # paid on the due date
    (M, d("2025-04-01"), d("2025-04-02"), 333),  # d=1: 1_000_000 * 1% * 1/30 = 333.33 -> 333
    (M, d("2025-04-01"), d("2025-04-30"), 9_667),  # d=29: 10_000 * 29/30 = 9_666.67 -> 9_667
    (M, d("2025-04-01"), d("2025-05-01"), 10_000),  # d=30: 10_000 * 30/30
    (M, d("2025-04-01"), d("2025-05-02"), 10_333),  # d=31: 10_000 * 31/30 = 10_333.33 -> 10_333
    (M, d("2025-01-31"), d("2025-02-28"), 9_333),  # d=28: 10_000 * 28/30 = 9_333.33 -> 9_333
    (M, d("2025-01-31"), d("2025-03-01"), 9_667),  # d=29: 9_666.67 -> 9_667
    (M, d("2025-01-31"), d("2025-03-31"), 19_667),  # d=59: 10_000 * 59/30 = 19_666.67 -> 19_667
    (M, d("2024-01-31"), d("2024-02-28"), 9_333),  # leap year, d=28: 9_333.33 -> 9_333
    (M, d("2024-01-31"), d("2024-02-29"), 9_667),  # d=29: 9_666.67 -> 9_667
    (M, d("2024-01-31"), d("2024-03-01"), 10_000),  # d=30
    (M, d("2024-01-31"), d("2024-03-31"), 20_000),  # d=60: 10_000 * 60/30
    (M, d("2025-03-10"), d("2025-05-11"), 20_667),  # two months and a day, d=21+30+11=62: 20_666.67 -> 20_667
    (M, d("2025-12-15"), d("2026-01-16"), 10_667),  # year end, d=16+16=32: 10_666.67 -> 10_667
    (1, d("2025-04-01"), d("2025-05-02"), 0),  # 1 * 1% * 31/30 = 0.0103 -> 0
    (1, d("2025-01-01"), d("2029-02-09"), 1),  # d=1500 (365+365+365+366+39): 1 * 1% * 1500/30 = 0.5 -> 1 (half up)
    (10**12, d("2025-04-01"), d("2025-05-02"), 10_333_333_333),  # 10**12 * 1% * 31/30 = 10_333_333_333.33
    (10**12, d("2025-04-01"), d("2025-04-30"), 9_666_666_667),  # 10**10 * 29/30 = 9_666_666_666.67 -> ..667
    (1_500, d("2025-04-01"), d("2025-04-02"), 1),  # 1_500 * 1% * 1/30 = 0.5 -> 1 (half up)
    (4_500, d("2025-04-01"), d("2025-04-02"), 2),  # 4_500 * 1% * 1/30 = 1.5 -> 2 (half up)
    (1_499, d("2025-04-01"), d("2025-04-02"), 0),  # 1_499 * 1% * 1/30 = 0.4997 -> 0
]

# m = whole months as relativedelta counts them (a month from 31 Jan is the last day of February).
FULL_MONTHS = [
    (M, d("2025-04-01"), d("2025-03-20"), 0),  # paid early
    (M, d("2025-04-01"), d("2025-04-01"), 0),  # on the due date
    (M, d("2025-04-01"), d("2025-04-02"), 0),  # 1 day: m=0
    (M, d("2025-04-01"), d("2025-04-30"), 0),  # 29 days: m=0
    (M, d("2025-04-01"), d("2025-05-01"), 10_000),  # 30 days = 1 Apr -> 1 May: m=1 -> 1_000_000 * 1% * 1
    (M, d("2025-04-01"), d("2025-05-02"), 10_000),  # 31 days: m=1 (+1 day, not counted)
    (M, d("2025-01-31"), d("2025-02-28"), 10_000),  # 31 Jan + 1 month = 28 Feb (clamped): m=1
    (M, d("2025-01-31"), d("2025-03-01"), 10_000),  # m=1 + 1 day
    (M, d("2025-01-31"), d("2025-03-31"), 20_000),  # m=2
    (M, d("2024-01-31"), d("2024-02-28"), 0),  # leap: 31 Jan + 1 month = 29 Feb > 28 Feb: m=0
    (M, d("2024-01-31"), d("2024-02-29"), 10_000),  # m=1
    (M, d("2024-01-31"), d("2024-03-01"), 10_000),  # m=1 + 1 day
    (M, d("2024-01-31"), d("2024-03-31"), 20_000),  # m=2
    (M, d("2025-03-10"), d("2025-05-11"), 20_000),  # m=2 + 1 day
    (M, d("2025-12-15"), d("2026-01-15"), 10_000),  # across the year end: m=1
    (M, d("2025-12-15"), d("2026-01-16"), 10_000),  # m=1 + 1 day
    (1, d("2025-04-01"), d("2025-05-01"), 0),  # 1 * 1% * 1 = 0.01 -> 0
    (50, d("2025-04-01"), d("2025-05-01"), 1),  # 50 * 1% * 1 = 0.5 -> 1 (half up)
    (10**12, d("2025-04-01"), d("2025-05-02"), 10**10),  # 10**12 * 1% * 1
    (10**12, d("2025-01-15"), d("2026-03-20"), 14 * 10**10),  # m=14 (1 year 2 months) + 5 days
]

STARTED_MONTHS = [
    (M, d("2025-04-01"), d("2025-03-20"), 0),  # paid early
    (M, d("2025-04-01"), d("2025-04-01"), 0),  # on the due date
    (M, d("2025-04-01"), d("2025-04-02"), 10_000),  # 1 day: m=0 + days -> 1 month counted
    (M, d("2025-04-01"), d("2025-04-30"), 10_000),  # 29 days: 1
    (M, d("2025-04-01"), d("2025-05-01"), 10_000),  # 30 days: m=1 exactly -> 1
    (M, d("2025-04-01"), d("2025-05-02"), 20_000),  # 31 days: m=1 + 1 day -> 2
    (M, d("2025-01-31"), d("2025-02-28"), 10_000),  # m=1 exactly (clamped) -> 1
    (M, d("2025-01-31"), d("2025-03-01"), 20_000),  # m=1 + 1 day -> 2
    (M, d("2025-01-31"), d("2025-03-31"), 20_000),  # m=2 exactly -> 2
    (M, d("2024-01-31"), d("2024-02-28"), 10_000),  # leap: m=0 + 28 days -> 1
    (M, d("2024-01-31"), d("2024-02-29"), 10_000),  # m=1 exactly -> 1
    (M, d("2024-01-31"), d("2024-03-01"), 20_000),  # m=1 + 1 day -> 2
    (M, d("2024-01-31"), d("2024-03-31"), 20_000),  # m=2 exactly -> 2
    (M, d("2025-03-10"), d("2025-05-11"), 30_000),  # m=2 + 1 day -> 3
    (M, d("2025-12-15"), d("2026-01-15"), 10_000),  # across the year end: m=1 exactly -> 1
    (M, d("2025-12-15"), d("2026-01-16"), 20_000),  # m=1 + 1 day -> 2
    (1, d("2025-04-01"), d("2025-04-02"), 0),  # 1 * 1% * 1 = 0.01 -> 0
    (50, d("2025-04-01"), d("2025-04-02"), 1),  # 50 * 1% * 1 = 0.5 -> 1 (half up)
    (10**12, d("2025-04-01"), d("2025-05-02"), 2 * 10**10),  # 10**12 * 1% * 2
]


@pytest.mark.parametrize(("amount", "due_on", "paid_on", "expected"), DAILY_PRO_RATA)
def test_daily_pro_rata(amount: int, due_on: date, paid_on: date, expected: int) -> None:
    assert late_penalty(amount, due_on, paid_on, "daily_pro_rata") == expected


@pytest.mark.parametrize(("amount", "due_on", "paid_on", "expected"), FULL_MONTHS)
def test_full_months(amount: int, due_on: date, paid_on: date, expected: int) -> None:
    assert late_penalty(amount, due_on, paid_on, "full_months") == expected


@pytest.mark.parametrize(("amount", "due_on", "paid_on", "expected"), STARTED_MONTHS)
def test_started_months(amount: int, due_on: date, paid_on: date, expected: int) -> None:
    assert late_penalty(amount, due_on, paid_on, "started_months") == expected


def test_days_late() -> None:
    assert days_late(d("2025-04-01"), d("2025-03-20")) == 0
    assert days_late(d("2025-04-01"), d("2025-04-01")) == 0
    assert days_late(d("2025-12-15"), d("2026-01-16")) == 32  # 16 days in December + 16 in January


def test_unknown_method_names_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match=r"'monthly'.*daily_pro_rata, full_months, started_months"):
        late_penalty(M, d("2025-04-01"), d("2025-03-01"), "monthly")  # refused even when not late


def test_negative_amount_is_refused() -> None:
    with pytest.raises(ValueError, match="amount"):
        late_penalty(-1, d("2025-04-01"), d("2025-05-01"), "daily_pro_rata")


amounts = st.integers(min_value=0, max_value=10**13)
due_dates = st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31))
delays = st.integers(min_value=-40, max_value=1200)


@given(amounts, due_dates, delays, st.integers(min_value=0, max_value=400), st.sampled_from(PENALTY_METHODS))
def test_monotone_in_paid_on(amount: int, due_on: date, delay: int, extra: int, method: str) -> None:
    paid_on = due_on + timedelta(days=delay)
    later = paid_on + timedelta(days=extra)
    assert late_penalty(amount, due_on, paid_on, method) <= late_penalty(amount, due_on, later, method)


@given(amounts, due_dates, delays)
def test_methods_bound_each_other(amount: int, due_on: date, delay: int) -> None:
    paid_on = due_on + timedelta(days=delay)
    late = max(delay, 0)
    daily = late_penalty(amount, due_on, paid_on, "daily_pro_rata")
    full = late_penalty(amount, due_on, paid_on, "full_months")
    started = late_penalty(amount, due_on, paid_on, "started_months")
    assert full <= started
    # daily is amount * late / 3000 rounded half up: within half a rupiah of the exact value.
    assert abs(3000 * daily - amount * late) <= 1500
    # A month spans 28 to 31 days, so started months >= late/31 months and full months <= late/28 months
    # (bounds rounded half up the same way: amount * late / 3100 and / 2800).
    assert started >= (2 * amount * late + 3100) // 6200
    assert full <= (2 * amount * late + 2800) // 5600
    if late == 0:
        assert daily == full == started == 0
