"""Deadline arithmetic over an injected working-day calendar (the domain never imports one)."""

from __future__ import annotations

import calendar as _gregorian
from datetime import date, timedelta
from typing import Protocol

from services.verifier.domain.policy import VerificationPolicy

_DAY = timedelta(days=1)


class Calendar(Protocol):
    """What the domain needs from `shared.calendar` (a module with these functions also fits)."""

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after `start`."""
        ...

    def working_days_between(self, a: date, b: date) -> int:
        """Working days d with a < d <= b."""
        ...

    def is_working_day(self, d: date) -> bool:
        """Whether `d` is a working day."""
        ...


def add_months(start: date, months: int) -> date:
    """Same day `months` later, clamped to the month's last day (31 Aug + 6 months = 28/29 Feb)."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    last_day = _gregorian.monthrange(year, month)[1]
    return date(year, month, min(start.day, last_day))


def resubmit_by(cal: Calendar, pended_on: date, policy: VerificationPolicy) -> date:
    """Last working day on which the hospital may resubmit a pended claim."""
    return cal.add_working_days(pended_on, policy.resubmit_working_days)


def dispute_by(cal: Calendar, decided_on: date, policy: VerificationPolicy) -> date:
    """Last working day on which the hospital may dispute a decision."""
    return cal.add_working_days(decided_on, policy.dispute_working_days)


def completeness_date(cal: Calendar, submitted_on: date, policy: VerificationPolicy) -> date:
    """The day a still-undecided claim is deemed complete (Peraturan BPJS 7/2018 Art. 30)."""
    if policy.completeness_day_unit == "working":
        return cal.add_working_days(submitted_on, policy.completeness_days)
    return submitted_on + timedelta(days=policy.completeness_days)


def reminder_on(cal: Calendar, deadline: date, policy: VerificationPolicy) -> date:
    """The latest working day with exactly `reminder_working_days` working days after it up to `deadline`."""
    day, remaining = deadline, policy.reminder_working_days
    while remaining > 0:
        if cal.is_working_day(day):
            remaining -= 1
        day -= _DAY
    while not cal.is_working_day(day):
        day -= _DAY
    return day


def is_expired_submission(tgl_pulang: date, submitted_on: date, policy: VerificationPolicy) -> bool:
    """Whether a claim was first submitted later than the expiry window after discharge."""
    return submitted_on > add_months(tgl_pulang, policy.claim_expiry_months)
