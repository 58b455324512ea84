"""An upheld dispute's supplementary amount is due on the original date: the penalty covers the whole delay."""

from __future__ import annotations

from datetime import date

from services.payments.domain.due_dates import payable_due_on
from services.payments.domain.penalty import days_late, late_penalty

ORIGINAL_DUE = date(2026, 3, 25)  # main verification on 25 Feb 2026 + 15 working days (Idul Fitri weeks skipped)
# The dispute is upheld and the supplementary verified on Mon 20 Apr 2026; 15 working days after that
# (21-24, 27-30 Apr, 1 May a holiday, 4-8, 11, 12 May) would be 12 May.
OWN_DUE = date(2026, 5, 12)
PAID_ON = date(2026, 5, 4)  # 40 calendar days after 25 Mar: 6 left in March + 30 in April + 4 in May


def test_a_supplementary_amount_is_due_on_the_original_due_date() -> None:
    assert payable_due_on(1, OWN_DUE, ORIGINAL_DUE, from_original=True) == ORIGINAL_DUE
    assert payable_due_on(2, OWN_DUE, ORIGINAL_DUE, from_original=True) == ORIGINAL_DUE


def test_an_upheld_dispute_paid_40_days_after_the_original_due_date_carries_the_penalty_for_the_whole_delay() -> None:
    due = payable_due_on(1, OWN_DUE, ORIGINAL_DUE, from_original=True)
    assert days_late(due, PAID_ON) == 40
    # daily_pro_rata: 10,000,000 x 1 % x 40 / 30 = 133,333.33 -> 133,333 (half up).
    assert late_penalty(10_000_000, due, PAID_ON, "daily_pro_rata") == 133_333
    # started_months: 25 Mar -> 4 May is one month and 9 days: two started months, 2 x 100,000.
    assert late_penalty(10_000_000, due, PAID_ON, "started_months") == 200_000
    # Under a fresh due date (the bug) the same payment was on time and carried nothing.
    assert late_penalty(10_000_000, OWN_DUE, PAID_ON, "daily_pro_rata") == 0


def test_the_main_verification_and_the_setting_off_keep_their_own_date() -> None:
    assert payable_due_on(0, ORIGINAL_DUE, None, from_original=True) == ORIGINAL_DUE
    assert payable_due_on(1, OWN_DUE, ORIGINAL_DUE, from_original=False) == OWN_DUE


def test_a_supplementary_whose_main_verification_is_unknown_keeps_its_own_date_until_it_arrives() -> None:
    assert payable_due_on(1, OWN_DUE, None, from_original=True) == OWN_DUE
