"""Properties of the payment-run planner over random open payables and funds (DOMAIN.md, payment runs):
oldest due first, never part-paid, no queue-jumping past the first payable the funds cannot cover,
never more than the funds. The hand-worked plans are in test_payment_run.py; here the planner's own
penalty is taken as given (tested by hand in test_penalty.py) and the rules about order and money checked.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from services.payments.domain.payment_run import OpenPayable, RunPlan, plan_run
from shared.policy_types import PENALTY_METHODS, PenaltyMethod

PAID_ON = date(2026, 4, 15)
HOSPITALS = ("0301R001", "0301R002", "0302R003")


@st.composite
def open_payables(draw: st.DrawFn) -> list[OpenPayable]:
    """Up to 25 payables, due from four months ago (long overdue) to two months ahead (not yet due)."""
    rows = draw(
        st.lists(
            st.tuples(
                st.integers(min_value=1, max_value=50_000_000),  # amount
                st.integers(min_value=-120, max_value=60),  # due date relative to the run
                st.integers(min_value=0, max_value=40),  # days from verification to due date
                st.sampled_from(HOSPITALS),
            ),
            max_size=25,
        )
    )
    return [
        OpenPayable(
            id=i + 1,
            claim_id=f"CLM-{i + 1}",
            verification_seq=0,
            amount=amount,
            verified_on=PAID_ON + timedelta(days=due - lead),
            due_on=PAID_ON + timedelta(days=due),
            kode_rs=rs,
        )
        for i, (amount, due, lead, rs) in enumerate(rows)
    ]


def oldest_first(payables: list[OpenPayable]) -> list[OpenPayable]:
    """The rule written out: earliest due date, then earliest verification, then first to arrive."""
    return sorted(payables, key=lambda p: (p.due_on, p.verified_on, p.id))


def cost_alone(p: OpenPayable, method: PenaltyMethod) -> int:
    """What settling `p` in full takes (amount + penalty), asked of the planner with funds to spare."""
    (only,) = plan_run([p], 10**15, PAID_ON, method).payments
    return only.total


funds_share = st.fractions(min_value=0, max_value=Fraction(6, 5))
methods = st.sampled_from(PENALTY_METHODS)


def funds_for(payables: list[OpenPayable], share: Fraction) -> int:
    return int(sum(p.amount for p in payables) * share)


@settings(max_examples=300)
@given(open_payables(), funds_share, methods)
def test_a_run_pays_a_prefix_of_the_oldest_first_order_and_stops_at_the_first_it_cannot_cover(
    payables: list[OpenPayable], share: Fraction, method: PenaltyMethod
) -> None:
    funds = funds_for(payables, share)
    plan = plan_run(payables, funds, PAID_ON, method)
    order = oldest_first(payables)
    paid = [pp.payable for pp in plan.payments]

    # Oldest due first, and no queue-jumping: what was paid is exactly the head of the queue.
    assert paid == order[: len(paid)]
    if len(paid) < len(order):
        stopper = order[len(paid)]
        # It stopped because this one could not be paid in full from what was left ...
        assert cost_alone(stopper, method) > plan.remaining
        # ... and nothing younger (however small) was paid after it.
        assert all(p.due_on <= stopper.due_on for p in paid)


@settings(max_examples=300)
@given(open_payables(), funds_share, methods)
def test_every_payment_settles_its_whole_amount_and_the_run_never_pays_more_than_its_funds(
    payables: list[OpenPayable], share: Fraction, method: PenaltyMethod
) -> None:
    funds = funds_for(payables, share)
    plan = plan_run(payables, funds, PAID_ON, method)

    for pp in plan.payments:
        assert pp.total == pp.payable.amount + pp.penalty  # never part-paid
        assert pp.penalty >= 0
        if pp.payable.due_on >= PAID_ON:
            assert (pp.penalty, pp.days_late) == (0, 0)  # paid by its due date: no penalty
        else:
            assert pp.days_late == (PAID_ON - pp.payable.due_on).days
    assert plan.paid_total <= funds
    assert plan.remaining == funds - plan.paid_total


@settings(max_examples=200)
@given(open_payables(), funds_share, methods, st.randoms(use_true_random=False))
def test_the_plan_does_not_depend_on_the_order_the_payables_were_loaded_in(
    payables: list[OpenPayable], share: Fraction, method: PenaltyMethod, rnd: random.Random
) -> None:
    funds = funds_for(payables, share)
    shuffled = list(payables)
    rnd.shuffle(shuffled)

    assert plan_run(shuffled, funds, PAID_ON, method) == plan_run(payables, funds, PAID_ON, method)


@settings(max_examples=200)
@given(
    open_payables(),
    funds_share,
    methods,
    st.dictionaries(st.sampled_from(HOSPITALS), st.integers(min_value=0, max_value=80_000_000)),
)
def test_netting_recovers_at_most_what_each_hospital_owes_and_never_from_a_penalty(
    payables: list[OpenPayable], share: Fraction, method: PenaltyMethod, owed_back: dict[str, int]
) -> None:
    funds = funds_for(payables, share)
    plan: RunPlan = plan_run(payables, funds, PAID_ON, method, owed_back)

    paid = [pp.payable for pp in plan.payments]
    assert paid == oldest_first(payables)[: len(paid)]
    for rs in HOSPITALS:
        recovered = sum(pp.recovered for pp in plan.payments if pp.payable.kode_rs == rs)
        assert recovered <= owed_back.get(rs, 0)
    for pp in plan.payments:
        assert 0 <= pp.recovered <= pp.payable.amount  # the penalty is always paid in cash
        assert pp.net == pp.total - pp.recovered
    assert plan.paid_total <= funds
    assert plan.remaining == funds - plan.paid_total
