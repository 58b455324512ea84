"""The deadline-notice cadence (DOMAIN.md, "Deadlines"): a warning once inside the window, an overdue
notice when the due date passes and then once per working day until the claim is paid.

The calendar here has weekends only (no holidays), so every count below can be read off a wall calendar:
April 2026 — Mon 13, Tue 14, Wed 15, Thu 16, Fri 17, Sat 18, Sun 19, Mon 20.
"""

from __future__ import annotations

from datetime import date

import pytest

from services.payments.domain.notices import Deadline, deadline_on, notice_due
from shared.calendar import HolidayKind, WorkingCalendar


def no_holidays(year: int) -> dict[date, tuple[HolidayKind, str]]:
    return {}


CAL = WorkingCalendar(overrides=[], library=no_holidays)
DUE = date(2026, 4, 17)  # a Friday


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 4, 13), Deadline("on_track", 4, 0)),  # Tue..Fri: 4 working days left, window is 3
        (date(2026, 4, 14), Deadline("at_risk", 3, 0)),  # Wed, Thu, Fri
        (date(2026, 4, 17), Deadline("at_risk", 0, 0)),  # the due date itself is not late
        (date(2026, 4, 18), Deadline("overdue", 0, 1)),  # Saturday: one calendar day late
        (date(2026, 4, 20), Deadline("overdue", 0, 3)),
    ],
)
def test_where_a_payable_due_on_friday_stands(today: date, expected: Deadline) -> None:
    assert deadline_on(DUE, today, CAL, warn_working_days=3) == expected


def test_the_warning_counts_working_days_so_a_weekend_does_not_bring_it_forward() -> None:
    # From Thu 9 Apr to Tue 14 Apr: Fri 10, Mon 13, Tue 14 = 3 working days (5 calendar days).
    assert deadline_on(date(2026, 4, 14), date(2026, 4, 9), CAL, warn_working_days=3).state == "at_risk"
    assert deadline_on(date(2026, 4, 14), date(2026, 4, 8), CAL, warn_working_days=3).state == "on_track"


def test_a_payable_entering_the_window_is_warned_once() -> None:
    at_risk = Deadline("at_risk", 3, 0)

    assert notice_due(at_risk, today_is_working_day=True, noticed_before=False) == "approaching"
    assert notice_due(at_risk, today_is_working_day=True, noticed_before=True) is None


def test_a_missed_day_still_warns_even_on_a_weekend() -> None:
    assert notice_due(Deadline("at_risk", 1, 0), today_is_working_day=False, noticed_before=False) == "approaching"


def test_the_first_overdue_notice_goes_out_whatever_the_day() -> None:
    assert notice_due(Deadline("overdue", 0, 1), today_is_working_day=False, noticed_before=False) == "overdue"


def test_after_the_first_an_overdue_notice_goes_out_on_working_days_only() -> None:
    assert notice_due(Deadline("overdue", 0, 3), today_is_working_day=True, noticed_before=True) == "overdue"
    assert notice_due(Deadline("overdue", 0, 2), today_is_working_day=False, noticed_before=True) is None


def test_nothing_is_sent_for_a_payable_outside_the_window() -> None:
    assert notice_due(Deadline("on_track", 9, 0), today_is_working_day=True, noticed_before=False) is None
