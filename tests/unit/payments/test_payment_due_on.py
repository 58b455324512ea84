"""`payment_due_on`: when a verified claim must be paid (POLICY_PAYMENT_DAYS counted in POLICY_PAYMENT_DAY_UNIT).

Weekends only, no holidays, so the dates can be read off a wall calendar (April-May 2026).
"""

from __future__ import annotations

from datetime import date

from services.payments.domain.due_dates import payment_due_on
from shared.calendar import HolidayKind, WorkingCalendar


def no_holidays(year: int) -> dict[date, tuple[HolidayKind, str]]:
    return {}


CAL = WorkingCalendar(overrides=[], library=no_holidays)
MONDAY = date(2026, 4, 13)


def test_fifteen_working_days_after_a_monday_is_the_monday_three_weeks_on() -> None:
    # Tue 14 - Fri 17 (4), 20-24 Apr (5), 27 Apr - 1 May (5), Mon 4 May: the 15th.
    assert payment_due_on(MONDAY, CAL, 15, "working") == date(2026, 5, 4)


def test_a_branch_counting_calendar_days_is_due_fifteen_days_later() -> None:
    assert payment_due_on(MONDAY, CAL, 15, "calendar") == date(2026, 4, 28)


def test_a_file_completed_on_a_saturday_counts_from_the_next_working_day() -> None:
    # Mon 20 Apr is the 1st working day after Sat 18 Apr; 15th is Fri 8 May.
    assert payment_due_on(date(2026, 4, 18), CAL, 15, "working") == date(2026, 5, 8)
