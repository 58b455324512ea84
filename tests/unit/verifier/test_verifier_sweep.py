"""The daily sweep: deemed complete, pend expiry, reminders before hospital deadlines."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date

import pytest

from services.verifier.domain import (
    Calendar,
    ClaimState,
    ClaimStatus,
    RejectedOut,
    ReminderOut,
    Sweep,
    Transition,
    VerificationPolicy,
    VerifiedOut,
    apply,
)

Reach = Callable[[ClaimState], ClaimStatus]
SEP, KODE_RS, CLAIMED = "0301R0010326V000001", "0301R001", 4_000_000


def sweep(status: ClaimStatus, on: date, cal: Calendar, policy: VerificationPolicy) -> Transition:
    result = apply(status, Sweep(on), cal, policy)
    assert isinstance(result, Transition)
    return result


# --------------------------------------------------------------------------- deemed complete


@pytest.mark.parametrize("state", [ClaimState.GROUPED, ClaimState.IN_REVIEW])
def test_undecided_claim_waits_until_the_window_ends(
    reach: Reach, cal: Calendar, policy: VerificationPolicy, state: ClaimState
) -> None:
    status = reach(state)
    assert sweep(status, date(2026, 3, 11), cal, policy) == Transition(status)


@pytest.mark.parametrize("state", [ClaimState.GROUPED, ClaimState.IN_REVIEW])
@pytest.mark.parametrize("on", [date(2026, 3, 12), date(2026, 3, 30)])
def test_undecided_claim_is_deemed_complete_on_day_ten(
    reach: Reach, cal: Calendar, policy: VerificationPolicy, state: ClaimState, on: date
) -> None:
    t = sweep(reach(state), on, cal, policy)
    day_ten = date(2026, 3, 12)  # submitted Mon 2 March + 10 calendar days, whenever the sweep runs
    assert (t.status.state, t.status.decided_on, t.status.approved_amount, t.status.dispute_by) == (
        ClaimState.VERIFIED,
        day_ten,
        CLAIMED,
        None,
    )
    assert t.outputs == (VerifiedOut(0, SEP, KODE_RS, 0, day_ten, CLAIMED, CLAIMED, deemed_complete=True),)


def test_resubmission_gets_its_own_window(reach: Reach, cal: Calendar, policy: VerificationPolicy) -> None:
    resubmitted = reach(ClaimState.RESUBMITTED)  # resubmitted Wed 11 March
    assert sweep(resubmitted, date(2026, 3, 20), cal, policy).status == resubmitted
    t = sweep(resubmitted, date(2026, 3, 21), cal, policy)  # 11 + 10 calendar days
    [out] = t.outputs
    assert isinstance(out, VerifiedOut) and (out.revision, out.verified_on) == (1, date(2026, 3, 21))


def test_window_in_working_days(reach: Reach, cal: Calendar) -> None:
    working = VerificationPolicy(completeness_day_unit="working")
    status = reach(ClaimState.IN_REVIEW)
    assert sweep(status, date(2026, 3, 13), cal, working).outputs == ()
    [out] = sweep(status, date(2026, 3, 16), cal, working).outputs  # Mon 2 + 10 working days
    assert isinstance(out, VerifiedOut) and out.verified_on == date(2026, 3, 16)


# --------------------------------------------------------------------------- pend expiry


def test_pended_claim_may_still_be_resubmitted_on_its_deadline(
    reach: Reach, cal: Calendar, policy: VerificationPolicy
) -> None:
    pended = reach(ClaimState.PENDED)
    assert sweep(pended, date(2026, 3, 11), cal, policy).status.state == ClaimState.PENDED


@pytest.mark.parametrize("on", [date(2026, 3, 12), date(2026, 4, 1)])
def test_pended_claim_expires_the_day_after_its_deadline(
    reach: Reach, cal: Calendar, policy: VerificationPolicy, on: date
) -> None:
    t = sweep(reach(ClaimState.PENDED), on, cal, policy)
    assert t.status.state == ClaimState.PEND_EXPIRED
    [out] = t.outputs
    assert isinstance(out, RejectedOut)
    assert (out.rejected_on, out.stage, [r.code for r in out.reasons]) == (
        date(2026, 3, 12),  # resubmit_by Wed 11 March + 1 day
        "verifier",
        ["V-PEND-EXPIRED"],
    )


# --------------------------------------------------------------------------- reminders


def test_resubmission_reminder_two_working_days_before_once(
    reach: Reach, cal: Calendar, policy: VerificationPolicy
) -> None:
    pended = reach(ClaimState.PENDED)  # resubmit_by Wed 11 March
    assert sweep(pended, date(2026, 3, 6), cal, policy).outputs == ()
    t = sweep(pended, date(2026, 3, 9), cal, policy)  # Mon 9: Tue 10, Wed 11 left
    assert t.outputs == (ReminderOut(SEP, KODE_RS, "resubmit", date(2026, 3, 11), date(2026, 3, 9), 2),)
    assert sweep(t.status, date(2026, 3, 9), cal, policy).outputs == ()
    assert sweep(t.status, date(2026, 3, 10), cal, policy).outputs == ()


@pytest.mark.parametrize(("on", "left"), [(date(2026, 3, 10), 1), (date(2026, 3, 11), 0)])
def test_missed_reminder_day_is_caught_up_with_the_days_left(
    reach: Reach, cal: Calendar, policy: VerificationPolicy, on: date, left: int
) -> None:
    [out] = sweep(reach(ClaimState.PENDED), on, cal, policy).outputs
    assert out == ReminderOut(SEP, KODE_RS, "resubmit", date(2026, 3, 11), on, left)


@pytest.mark.parametrize("state", [ClaimState.VERIFIED_ADJUSTED, ClaimState.REJECTED])
def test_dispute_reminder_two_working_days_before(
    reach: Reach, cal: Calendar, policy: VerificationPolicy, state: ClaimState
) -> None:
    decided = reach(state)  # dispute_by Fri 20 March
    assert sweep(decided, date(2026, 3, 17), cal, policy).outputs == ()
    t = sweep(decided, date(2026, 3, 18), cal, policy)  # Wed 18: Thu 19, Fri 20 left
    assert t.outputs == (ReminderOut(SEP, KODE_RS, "dispute", date(2026, 3, 20), date(2026, 3, 18), 2),)
    assert t.status.state == state
    assert sweep(t.status, date(2026, 3, 19), cal, policy).outputs == ()
    assert sweep(decided, date(2026, 3, 23), cal, policy).outputs == ()  # window closed


def test_new_deadline_gets_its_own_reminder(reach: Reach, cal: Calendar, policy: VerificationPolicy) -> None:
    reminded = sweep(reach(ClaimState.PENDED), date(2026, 3, 9), cal, policy).status
    later = replace(reminded, resubmit_by=date(2026, 3, 23))
    [out] = sweep(later, date(2026, 3, 19), cal, policy).outputs  # Thu 19: Fri 20, Mon 23 left
    assert out == ReminderOut(SEP, KODE_RS, "resubmit", date(2026, 3, 23), date(2026, 3, 19), 2)


@pytest.mark.parametrize(
    "state",
    [
        ClaimState.RECEIVED,
        ClaimState.VERIFIED,
        ClaimState.PEND_EXPIRED,
        ClaimState.DISPUTED,
        ClaimState.DISPUTE_RESOLVED,
    ],
)
def test_sweep_leaves_settled_claims_alone(
    reach: Reach, cal: Calendar, policy: VerificationPolicy, state: ClaimState
) -> None:
    status = reach(state)
    for on in (date(2026, 3, 18), date(2026, 6, 1)):
        assert sweep(status, on, cal, policy) == Transition(status)
