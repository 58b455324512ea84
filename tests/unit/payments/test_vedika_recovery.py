"""VEDIKA recoveries netted in a payment run: what a hospital owes back is deducted from its next payables."""

from __future__ import annotations

from datetime import date

from services.payments.domain.payment_run import OpenPayable, plan_run

PAID_ON = date(2026, 3, 2)
# Two hospitals, all on time (no penalty), oldest due first: RS1's 4,000,000 and 3,000,000, RS2's 5,000,000.
RS1_OLD = OpenPayable(1, "CLM-1", 0, 4_000_000, date(2026, 2, 2), date(2026, 3, 10), "RS000001")
RS2 = OpenPayable(2, "CLM-2", 0, 5_000_000, date(2026, 2, 3), date(2026, 3, 11), "RS000002")
RS1_NEW = OpenPayable(3, "CLM-3", 0, 3_000_000, date(2026, 2, 4), date(2026, 3, 12), "RS000001")


def test_a_receivable_is_deducted_from_the_hospitals_next_payables_in_payment_order() -> None:
    # RS1 owes back 5,500,000: 4,000,000 from its oldest payable, the remaining 1,500,000 from the next.
    plan = plan_run([RS1_OLD, RS2, RS1_NEW], 100_000_000, PAID_ON, "daily_pro_rata", {"RS000001": 5_500_000})
    got = {p.payable.claim_id: (p.total, p.recovered, p.net) for p in plan.payments}
    assert got == {
        "CLM-1": (4_000_000, 4_000_000, 0),
        "CLM-2": (5_000_000, 0, 5_000_000),  # another hospital's debt is never taken from RS2
        "CLM-3": (3_000_000, 1_500_000, 1_500_000),
    }
    assert plan.recovered_total == 5_500_000
    assert plan.paid_total == 6_500_000  # cash: 0 + 5,000,000 + 1,500,000
    assert plan.remaining == 93_500_000


def test_the_funds_only_need_to_cover_the_cash_after_netting() -> None:
    # 5,000,000 of funds: RS1's first payable costs no cash, RS2's costs all of it, RS1's second no longer fits.
    plan = plan_run([RS1_OLD, RS2, RS1_NEW], 5_000_000, PAID_ON, "daily_pro_rata", {"RS000001": 4_000_000})
    assert [(p.payable.claim_id, p.net) for p in plan.payments] == [("CLM-1", 0), ("CLM-2", 5_000_000)]
    assert plan.remaining == 0


def test_the_penalty_on_bpjs_lateness_is_paid_in_cash_even_when_the_hospital_owes_money_back() -> None:
    late = OpenPayable(4, "CLM-4", 0, 6_000_000, date(2026, 1, 5), date(2026, 1, 30), "RS000001")
    # 30 Jan -> 2 Mar = 31 days: 6,000,000 x 1 % x 31 / 30 = 62,000.
    (payment,) = plan_run([late], 10_000_000, PAID_ON, "daily_pro_rata", {"RS000001": 9_000_000}).payments
    assert (payment.penalty, payment.total, payment.recovered, payment.net) == (62_000, 6_062_000, 6_000_000, 62_000)


def test_without_receivables_a_run_pays_as_before() -> None:
    plan = plan_run([RS1_OLD, RS2], 9_000_000, PAID_ON, "daily_pro_rata")
    assert [(p.total, p.recovered, p.net) for p in plan.payments] == [
        (4_000_000, 0, 4_000_000),
        (5_000_000, 0, 5_000_000),
    ]
    assert plan.remaining == 0
