"""The payment-run planner: oldest due first, penalty included, stop at the first payable the funds miss.

Every expected plan below is worked by hand from DOMAIN.md's rule (1 % of the amount owed per
month late; `daily_pro_rata`: calendar days late / 30; `full_months` / `started_months` count
calendar months; whole rupiah, half up). The penalty function is never used to compute an expectation.
"""

from __future__ import annotations

import random
from datetime import date

import pytest

from services.payments.domain.payment_run import OpenPayable, RunPlan, plan_run


def d(text: str) -> date:
    return date.fromisoformat(text)


PAID_ON = d("2026-04-15")

# The open payables of one hospital on 15 Apr 2026, oldest due first.
# A: Rp 10,000,000 due 2 Mar, paid 15 Apr: 29 days (2->31 Mar) + 15 (Apr) = 44 days late.
#    daily_pro_rata: 10,000,000 x 1 % x 44/30 = 100,000 x 44/30 = 146,666.67 -> 146,667; total 10,146,667.
A = OpenPayable(1, "CLM-A", 0, 10_000_000, d("2026-02-09"), d("2026-03-02"))
# B: Rp 2,500,000 due 20 Mar: 11 days (20->31 Mar) + 15 = 26 days late.
#    25,000 x 26/30 = 21,666.67 -> 21,667; total 2,521,667.
B = OpenPayable(2, "CLM-B", 0, 2_500_000, d("2026-02-26"), d("2026-03-20"))
# C: Rp 4,000,000 due 20 Apr: not late, penalty 0; total 4,000,000.
C = OpenPayable(3, "CLM-C", 0, 4_000_000, d("2026-03-26"), d("2026-04-20"))
# D: Rp 1,000,000 due 30 Apr, the youngest and the smallest: total 1,000,000.
D = OpenPayable(4, "CLM-D", 0, 1_000_000, d("2026-04-08"), d("2026-04-30"))

A_TOTAL, B_TOTAL, C_TOTAL, D_TOTAL = 10_146_667, 2_521_667, 4_000_000, 1_000_000


def summary(plan: RunPlan) -> list[tuple[str, int, int, int]]:
    """(claim, penalty, total, days late) of each planned payment, in payment order."""
    return [(p.payable.claim_id, p.penalty, p.total, p.days_late) for p in plan.payments]


def shuffled(*payables: OpenPayable) -> list[OpenPayable]:
    """The planner must order them itself: hand them over in a scrambled order."""
    out = list(payables)
    random.Random(11).shuffle(out)
    return out


def test_enough_funds_pay_every_payable_oldest_first_with_its_penalty() -> None:
    funds = 20_000_000
    plan = plan_run(shuffled(D, C, B, A), funds, PAID_ON, "daily_pro_rata")
    assert summary(plan) == [
        ("CLM-A", 146_667, 10_146_667, 44),
        ("CLM-B", 21_667, 2_521_667, 26),
        ("CLM-C", 0, 4_000_000, 0),
        ("CLM-D", 0, 1_000_000, 0),
    ]
    # 10,146,667 + 2,521,667 + 4,000,000 + 1,000,000 = 17,668,334 paid; 20,000,000 - 17,668,334 = 2,331,666 left.
    assert plan.paid_total == 17_668_334
    assert plan.remaining == 2_331_666


def test_funds_exactly_covering_the_oldest_three_leave_nothing_and_stop_before_the_fourth() -> None:
    funds = A_TOTAL + B_TOTAL + C_TOTAL  # 16,668,334
    plan = plan_run(shuffled(A, B, C, D), funds, PAID_ON, "daily_pro_rata")
    assert [p.payable.claim_id for p in plan.payments] == ["CLM-A", "CLM-B", "CLM-C"]
    assert (plan.paid_total, plan.remaining) == (16_668_334, 0)


def test_the_run_stops_at_the_first_payable_it_cannot_cover_and_never_skips_to_a_smaller_younger_one() -> None:
    # After A and B (12,668,334), 3,999,999 are left: one rupiah short of C, while D (1,000,000) would fit.
    funds = A_TOTAL + B_TOTAL + 3_999_999  # 16,668,333
    plan = plan_run(shuffled(A, B, C, D), funds, PAID_ON, "daily_pro_rata")
    assert [p.payable.claim_id for p in plan.payments] == ["CLM-A", "CLM-B"]
    assert plan.paid_total == 12_668_334
    assert plan.remaining == 3_999_999  # D is not paid although it would fit


def test_funds_short_of_the_oldest_pay_nothing_even_when_every_younger_one_would_fit() -> None:
    funds = 9_999_999  # less than A's amount alone; B + C + D = 7,521,667 would fit
    plan = plan_run(shuffled(A, B, C, D), funds, PAID_ON, "daily_pro_rata")
    assert plan.payments == ()
    assert (plan.paid_total, plan.remaining) == (0, 9_999_999)


def test_funds_covering_the_amount_but_not_the_penalty_do_not_pay_it() -> None:
    # 10,146,666 covers A's 10,000,000 but is one rupiah short of its 146,667 penalty; B (2,521,667) would fit.
    plan = plan_run(shuffled(A, B), A_TOTAL - 1, PAID_ON, "daily_pro_rata")
    assert plan.payments == ()
    assert plan.remaining == 10_146_666
    # One rupiah more and A is paid in full, penalty included, with nothing left for B.
    plan = plan_run(shuffled(A, B), A_TOTAL, PAID_ON, "daily_pro_rata")
    assert summary(plan) == [("CLM-A", 146_667, 10_146_667, 44)]
    assert plan.remaining == 0


def test_the_penalty_method_decides_what_the_funds_cover() -> None:
    # A, 2 Mar -> 15 Apr is one month and 13 days (relativedelta).
    # full_months: 1 month -> 10,000,000 x 1 % x 1 = 100,000; total 10,100,000.
    # started_months: 2 months -> 200,000; total 10,200,000.
    # B, 20 Mar -> 15 Apr is 26 days: full_months 0 -> 0; started_months 1 -> 25,000.
    funds = 12_700_000
    full = plan_run(shuffled(A, B), funds, PAID_ON, "full_months")
    assert summary(full) == [("CLM-A", 100_000, 10_100_000, 44), ("CLM-B", 0, 2_500_000, 26)]
    assert full.remaining == 100_000  # 12,700,000 - 10,100,000 - 2,500,000
    started = plan_run(shuffled(A, B), funds, PAID_ON, "started_months")
    # 12,700,000 - 10,200,000 = 2,500,000 left: short of B's 2,525,000, so B waits.
    assert summary(started) == [("CLM-A", 200_000, 10_200_000, 44)]
    assert started.remaining == 2_500_000


def test_equal_due_dates_are_paid_by_verification_date_then_arrival() -> None:
    due = d("2026-03-16")
    # Same due date: the one verified earlier first; same verification date: the lower id (earlier arrival).
    late_arrival = OpenPayable(9, "CLM-LATE-ARRIVAL", 0, 3_000_000, d("2026-02-23"), due)
    early_arrival = OpenPayable(5, "CLM-EARLY-ARRIVAL", 0, 3_000_000, d("2026-02-23"), due)
    # A calendar-day rule makes an earlier verification fall due on the same date (a branch counting calendar days).
    verified_first = OpenPayable(12, "CLM-VERIFIED-FIRST", 0, 3_000_000, d("2026-02-20"), due)
    # 16 Mar -> 15 Apr: 15 + 15 = 30 days late: 3,000,000 x 1 % x 30/30 = 30,000; total 3,030,000 each.
    # 6,060,000 pays two of the three: the two that are first in line.
    plan = plan_run([late_arrival, early_arrival, verified_first], 6_060_000, PAID_ON, "daily_pro_rata")
    assert summary(plan) == [
        ("CLM-VERIFIED-FIRST", 30_000, 3_030_000, 30),
        ("CLM-EARLY-ARRIVAL", 30_000, 3_030_000, 30),
    ]
    assert plan.remaining == 0


def test_a_late_payable_with_a_rounding_half_is_rounded_up() -> None:
    # Rp 1,500 due 14 Apr, paid 15 Apr: 1 day: 1,500 x 1 % x 1/30 = 0.5 -> 1 (half up); total 1,501.
    tiny = OpenPayable(1, "CLM-TINY", 0, 1_500, d("2026-03-24"), d("2026-04-14"))
    plan = plan_run([tiny], 1_501, PAID_ON, "daily_pro_rata")
    assert summary(plan) == [("CLM-TINY", 1, 1_501, 1)]
    assert plan_run([tiny], 1_500, PAID_ON, "daily_pro_rata").payments == ()


def test_no_open_payables_pay_nothing_and_keep_the_funds() -> None:
    plan = plan_run([], 5_000_000, PAID_ON, "daily_pro_rata")
    assert (plan.payments, plan.paid_total, plan.remaining) == ((), 0, 5_000_000)


def test_zero_funds_pay_nothing() -> None:
    assert plan_run([D], 0, PAID_ON, "daily_pro_rata").payments == ()


def test_negative_funds_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="funds must be >= 0 rupiah, got -1"):
        plan_run([A], -1, PAID_ON, "daily_pro_rata")
