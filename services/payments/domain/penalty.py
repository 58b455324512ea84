"""Late-payment penalty (ganti rugi): 1 % of the amount owed per month late (Perpres 19/2016 Art. 38(2))."""

from __future__ import annotations

from datetime import date
from fractions import Fraction
from typing import Final

from dateutil.relativedelta import relativedelta

from services.payments.domain.money import round_half_up
from shared.policy_types import PENALTY_METHODS as PENALTY_METHODS  # re-exported: what late_penalty accepts

RATE_PER_MONTH: Final = Fraction(1, 100)
# daily_pro_rata: BPJS describes the penalty as accruing daily; a month counts as 30 days.
DAYS_PER_MONTH: Final = 30


def days_late(due_on: date, paid_on: date) -> int:
    """Calendar days from `due_on` to `paid_on`; 0 when paid on or before the due date."""
    return max(0, (paid_on - due_on).days)


def months_late(due_on: date, paid_on: date) -> tuple[int, bool]:
    """Whole calendar months late (month ends clamped, as relativedelta counts) and whether days remain."""
    if paid_on <= due_on:
        return 0, False
    delta = relativedelta(paid_on, due_on)
    return delta.years * 12 + delta.months, delta.days > 0


def penalty_months(due_on: date, paid_on: date, method: str) -> Fraction:
    """How many months of 1 % the delay counts as under `method`."""
    if method not in PENALTY_METHODS:
        raise ValueError(f"unknown penalty method {method!r}; allowed: {', '.join(PENALTY_METHODS)}")
    if method == "daily_pro_rata":
        return Fraction(days_late(due_on, paid_on), DAYS_PER_MONTH)
    whole, part = months_late(due_on, paid_on)
    return Fraction(whole + 1 if method == "started_months" and part else whole)


def late_penalty(amount: int, due_on: date, paid_on: date, method: str) -> int:
    """Penalty in whole rupiah (half up) on `amount` paid on `paid_on` against `due_on`; 0 if not late."""
    if amount < 0:
        raise ValueError(f"amount must be >= 0 rupiah, got {amount}")
    return round_half_up(amount * RATE_PER_MONTH * penalty_months(due_on, paid_on, method))
