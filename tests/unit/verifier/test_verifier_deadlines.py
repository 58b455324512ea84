"""Deadline arithmetic with the Mon-Fri fake calendar; expected dates worked out by hand."""

from __future__ import annotations

from datetime import date

import pytest

from services.verifier.domain import (
    Calendar,
    VerificationPolicy,
    add_months,
    completeness_date,
    dispute_by,
    reminder_on,
    resubmit_by,
)
from services.verifier.domain.deadlines import is_expired_submission

MON_2_MAR = date(2026, 3, 2)
FRI_6_MAR = date(2026, 3, 6)


def test_fake_calendar_is_monday_to_friday(cal: Calendar) -> None:
    assert MON_2_MAR.weekday() == 0
    assert cal.working_days_between(MON_2_MAR, FRI_6_MAR) == 4  # Tue..Fri
    assert cal.working_days_between(FRI_6_MAR, date(2026, 3, 9)) == 1  # Mon 9
    assert not cal.is_working_day(date(2026, 3, 7))


@pytest.mark.parametrize(
    ("pended_on", "expected"),
    [
        (MON_2_MAR, date(2026, 3, 11)),  # Tue 3 .. Fri 6 (4), Mon 9, Tue 10, Wed 11 (7)
        (FRI_6_MAR, date(2026, 3, 17)),  # Mon 9 .. Fri 13 (5), Mon 16, Tue 17 (7)
        (date(2026, 3, 7), date(2026, 3, 17)),  # Saturday: Mon 9 .. Fri 13 (5), Mon 16, Tue 17 (7)
    ],
)
def test_resubmit_by_is_seven_working_days_after_the_pending(
    cal: Calendar, policy: VerificationPolicy, pended_on: date, expected: date
) -> None:
    assert resubmit_by(cal, pended_on, policy) == expected


def test_dispute_by_is_fourteen_working_days_after_the_decision(cal: Calendar, policy: VerificationPolicy) -> None:
    # Tue 3 .. Fri 6 (4), Mon 9 .. Fri 13 (9), Mon 16 .. Fri 20 (14)
    assert dispute_by(cal, MON_2_MAR, policy) == date(2026, 3, 20)


@pytest.mark.parametrize(
    ("unit", "submitted", "expected"),
    [
        ("calendar", MON_2_MAR, date(2026, 3, 12)),  # 2 + 10 calendar days
        ("calendar", FRI_6_MAR, date(2026, 3, 16)),  # 6 + 10: lands on a Monday
        ("working", MON_2_MAR, date(2026, 3, 16)),  # Tue 3 .. Fri 6 (4), Mon 9 .. Fri 13 (9), Mon 16 (10)
    ],
)
def test_completeness_window_in_either_unit(cal: Calendar, unit: str, submitted: date, expected: date) -> None:
    policy = VerificationPolicy(completeness_day_unit=unit)  # type: ignore[arg-type]
    assert completeness_date(cal, submitted, policy) == expected


@pytest.mark.parametrize(
    ("deadline", "expected"),
    [
        (date(2026, 3, 11), date(2026, 3, 9)),  # Wed 11: Tue 10, Wed 11 after Mon 9
        (date(2026, 3, 20), date(2026, 3, 18)),  # Fri 20: Thu 19, Fri 20 after Wed 18
        (date(2026, 3, 16), date(2026, 3, 12)),  # Mon 16: Fri 13, Mon 16 after Thu 12
        (date(2026, 3, 17), date(2026, 3, 13)),  # Tue 17: Mon 16, Tue 17 after Fri 13
    ],
)
def test_reminder_two_working_days_before_a_deadline(
    cal: Calendar, policy: VerificationPolicy, deadline: date, expected: date
) -> None:
    assert reminder_on(cal, deadline, policy) == expected
    assert cal.working_days_between(expected, deadline) == 2


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2025, 8, 31), 6, date(2026, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2025, 12, 15), 1, date(2026, 1, 15)),
        (date(2026, 3, 2), 12, date(2027, 3, 2)),
    ],
)
def test_add_months_clamps_to_the_month_end(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


def test_submission_on_the_last_day_is_in_time(policy: VerificationPolicy) -> None:
    assert not is_expired_submission(date(2026, 3, 6), date(2026, 9, 6), policy)
    assert is_expired_submission(date(2026, 3, 6), date(2026, 9, 7), policy)
