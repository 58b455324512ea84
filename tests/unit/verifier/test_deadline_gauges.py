"""The deadlines-at-risk gauges' arithmetic (the deadline alerts read them), with the Mon-Fri fake calendar."""

from __future__ import annotations

from datetime import date

from services.verifier.domain import Calendar, VerificationPolicy
from services.verifier.entrypoints.sweeper import deadlines_at_risk

WED_11_MAR = date(2026, 3, 11)


def test_undecided_claims_reaching_day_10_today_are_deemed_complete_tonight(cal: Calendar) -> None:
    rows = [
        ("in_review", date(2026, 3, 1), None, 3),  # day 10 is today: deemed complete at tonight's sweep
        ("grouped", date(2026, 2, 27), None, 1),  # day 10 was yesterday, the sweep has not run yet
        ("resubmitted", date(2026, 3, 2), None, 5),  # day 10 is tomorrow: not yet
    ]
    deemed, expiring = deadlines_at_risk(rows, WED_11_MAR, cal, VerificationPolicy())
    assert deemed == {"grouped": 1, "in_review": 3, "resubmitted": 0}
    assert expiring == 0


def test_pends_within_the_reminder_window_are_expiring(cal: Calendar) -> None:
    rows = [
        ("pended", None, date(2026, 3, 13), 2),  # Friday: 2 working days after Wednesday
        ("pended", None, date(2026, 3, 16), 7),  # Monday: 3 working days, outside the window of 2
        ("pended", None, date(2026, 3, 11), 1),  # today is the last day to resubmit
    ]
    deemed, expiring = deadlines_at_risk(rows, WED_11_MAR, cal, VerificationPolicy(reminder_working_days=2))
    assert expiring == 3
    assert deemed == {"grouped": 0, "in_review": 0, "resubmitted": 0}
