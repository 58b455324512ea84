"""When a payable falls due: 15 working days after the file is complete, or the original date after a dispute."""

from __future__ import annotations

from datetime import date

from shared.calendar import WorkingCalendar
from shared.policy_types import DayUnit


def payment_due_on(verified_on: date, calendar: WorkingCalendar, payment_days: int, unit: DayUnit) -> date:
    """The date BPJS must have paid a verified claim by: `payment_days` (POLICY_PAYMENT_DAYS, 15) after
    the file was complete (`verified_on`), counted in `unit` (POLICY_PAYMENT_DAY_UNIT: working days by
    default, some branches count calendar days). The one place this is computed: payments and the simulator's
    expectations both call it, so they cannot drift apart.
    """
    return calendar.add_days(verified_on, payment_days, unit)


def payable_due_on(verification_seq: int, own_due_on: date, original_due_on: date | None, from_original: bool) -> date:
    """The due date of one verification of a claim.

    `own_due_on` is `payment_days` after this verification's own `verified_on`. A supplementary
    amount (seq >= 1) comes from an upheld or partly upheld dispute: that money was owed all along,
    so it is due on the date the main verification (seq 0) fell due, and the late penalty covers the
    whole time it was wrongly withheld (DOMAIN.md, "Rules payments must not miss"). When the main
    verification is not known to payments (yet), the payable keeps its own date until it arrives
    (`repository.backdate_supplementaries`); never later than its own date either way.
    """
    if verification_seq == 0 or not from_original or original_due_on is None:
        return own_due_on
    return min(original_due_on, own_due_on)
