"""Claim state machine: grouped revisions, review, decisions; every legal and illegal move."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest
from pydantic import BaseModel

from services.verifier.domain import (
    Calendar,
    ClaimState,
    ClaimStatus,
    Decide,
    Decision,
    DisputeResolvedOut,
    Grouped,
    IllegalTransition,
    Outcome,
    Output,
    PendedOut,
    RejectedOut,
    ReminderOut,
    Result,
    ReviewRequestedOut,
    StartReview,
    Sweep,
    Transition,
    VerificationPolicy,
    VerifiedOut,
    apply,
    decide,
    payload_fields,
    receive_grouped,
)
from services.verifier.domain.rulebook import finding, reason
from shared.events import (
    Adjustment,
    ClaimData,
    ClaimDeadlineReminderPayload,
    ClaimDisputeResolvedPayload,
    ClaimGroupedPayload,
    ClaimPendedPayload,
    ClaimRejectedPayload,
    ClaimVerifiedPayload,
    GroupingResult,
)

Reach = Callable[[ClaimState], ClaimStatus]
MON_2_MAR = date(2026, 3, 2)
SEP, KODE_RS, CLAIMED = "0301R0010326V000001", "0301R001", 4_000_000


def legal(result: Result) -> Transition:
    assert isinstance(result, Transition), result
    return result


def refused(result: Result, code: str) -> IllegalTransition:
    assert isinstance(result, IllegalTransition), result
    assert result.reason.code == code
    assert result.reason.message_id and result.reason.message_en
    return result


def revision(n: int, on: date = MON_2_MAR, claimed: int = CLAIMED) -> Grouped:
    return Grouped(n, on, SEP, KODE_RS, claimed)


# --------------------------------------------------------------------------- grouped revisions


def test_first_revision_opens_the_claim(reach: Reach, cal: Calendar, policy: VerificationPolicy) -> None:
    t = legal(apply(reach(ClaimState.RECEIVED), revision(0), cal, policy))
    s = t.status
    assert (s.state, s.revision, s.first_submitted_on, s.submitted_on) == (ClaimState.GROUPED, 0, MON_2_MAR, MON_2_MAR)
    assert (s.nomor_sep, s.kode_rs, s.claimed_amount, t.outputs) == (SEP, KODE_RS, CLAIMED, ())


def test_resubmission_on_the_deadline_is_accepted(reach: Reach, cal: Calendar, policy: VerificationPolicy) -> None:
    pended = reach(ClaimState.PENDED)
    assert pended.resubmit_by == date(2026, 3, 11)  # Mon 2 March + 7 working days
    s = legal(apply(pended, revision(1, date(2026, 3, 11), 3_900_000), cal, policy)).status
    assert (s.state, s.revision, s.submitted_on, s.first_submitted_on) == (
        ClaimState.RESUBMITTED,
        1,
        date(2026, 3, 11),
        MON_2_MAR,
    )
    assert (s.claimed_amount, s.resubmit_by, s.pended_on) == (3_900_000, None, None)


def test_second_pending_allows_the_next_revision(reach: Reach, cal: Calendar, policy: VerificationPolicy) -> None:
    reviewing = legal(apply(reach(ClaimState.RESUBMITTED), StartReview(date(2026, 3, 11)), cal, policy)).status
    pended = legal(
        apply(reviewing, Decide(decide([finding("V-DOC-CONSENT")], CLAIMED), date(2026, 3, 12)), cal, policy)
    )
    assert pended.status.resubmit_by == date(2026, 3, 23)  # Thu 12: Fri 13 (1), Mon 16..Fri 20 (6), Mon 23 (7)
    again = legal(apply(pended.status, revision(2, date(2026, 3, 23)), cal, policy))
    assert again.status.revision == 2


@pytest.mark.parametrize(
    "state",
    [ClaimState.GROUPED, ClaimState.IN_REVIEW, ClaimState.PENDED, ClaimState.VERIFIED, ClaimState.REJECTED],
)
def test_revision_zero_twice_is_refused(
    reach: Reach, cal: Calendar, policy: VerificationPolicy, state: ClaimState
) -> None:
    refused(apply(reach(state), revision(0), cal, policy), "V-STATE-REVISION")


@pytest.mark.parametrize(
    "state",
    [
        ClaimState.RECEIVED,
        ClaimState.GROUPED,
        ClaimState.IN_REVIEW,
        ClaimState.RESUBMITTED,
        ClaimState.VERIFIED,
        ClaimState.VERIFIED_ADJUSTED,
        ClaimState.REJECTED,
        ClaimState.PEND_EXPIRED,
        ClaimState.DISPUTED,
        ClaimState.DISPUTE_RESOLVED,
    ],
)
def test_resubmitting_a_claim_that_is_not_pended_is_refused(
    reach: Reach, cal: Calendar, policy: VerificationPolicy, state: ClaimState
) -> None:
    status = reach(state)
    refused(apply(status, revision(max(status.revision, 0) + 1), cal, policy), "V-STATE-RESUBMIT-NOT-PENDED")


@pytest.mark.parametrize("n", [2, 3])
def test_a_later_revision_is_accepted_when_the_grouper_rejected_the_ones_between(
    reach: Reach, cal: Calendar, policy: VerificationPolicy, n: int
) -> None:
    # Revision 1 was refused by the grouper (it never reached the verifier); the hospital sends n.
    t = legal(apply(reach(ClaimState.PENDED), revision(n, date(2026, 3, 5)), cal, policy))
    assert t.status.state == ClaimState.RESUBMITTED and t.status.revision == n


def test_a_revision_not_above_the_last_one_is_refused(reach: Reach, cal: Calendar, policy: VerificationPolicy) -> None:
    pended = reach(ClaimState.PENDED)
    refused(apply(pended, revision(pended.revision, date(2026, 3, 5)), cal, policy), "V-STATE-REVISION")


def test_resubmission_after_the_deadline_is_refused(reach: Reach, cal: Calendar, policy: VerificationPolicy) -> None:
    late = refused(
        apply(reach(ClaimState.PENDED), revision(1, date(2026, 3, 12)), cal, policy), "V-STATE-RESUBMIT-LATE"
    )
    assert late.state == ClaimState.PENDED and late.command == "Grouped"
    assert "2026-03-12 > 2026-03-11" in late.reason.message_en


def test_grouped_command_from_the_contract_payload(claim: ClaimData, grouping: GroupingResult) -> None:
    payload = ClaimGroupedPayload(revision=1, submitted_on=MON_2_MAR, claim=claim, grouping=grouping)
    assert Grouped.from_payload(payload) == Grouped(1, MON_2_MAR, SEP, KODE_RS, CLAIMED)


# --------------------------------------------------------------------------- start of review


@pytest.mark.parametrize("state", [ClaimState.GROUPED, ClaimState.RESUBMITTED])
def test_grouped_or_resubmitted_claims_go_into_review(
    reach: Reach, cal: Calendar, policy: VerificationPolicy, state: ClaimState
) -> None:
    t = legal(apply(reach(state), StartReview(MON_2_MAR), cal, policy))
    assert (t.status.state, t.outputs) == (ClaimState.IN_REVIEW, ())


@pytest.mark.parametrize(
    "state", [ClaimState.RECEIVED, ClaimState.IN_REVIEW, ClaimState.PENDED, ClaimState.VERIFIED, ClaimState.DISPUTED]
)
def test_review_of_a_claim_not_waiting_for_it_is_refused(
    reach: Reach, cal: Calendar, policy: VerificationPolicy, state: ClaimState
) -> None:
    refused(apply(reach(state), StartReview(MON_2_MAR), cal, policy), "V-STATE-NOT-GROUPED")


# --------------------------------------------------------------------------- decisions


def test_verified_in_full_is_not_disputable(reach: Reach, cal: Calendar, policy: VerificationPolicy) -> None:
    t = legal(apply(reach(ClaimState.IN_REVIEW), Decide(decide([], CLAIMED), date(2026, 3, 4)), cal, policy))
    assert t.status.state == ClaimState.VERIFIED
    assert (t.status.dispute_by, t.status.verification_seq, t.status.approved_amount) == (None, 0, CLAIMED)
    assert t.outputs == (VerifiedOut(0, SEP, KODE_RS, 0, date(2026, 3, 4), CLAIMED, CLAIMED),)


def test_adjusted_verification_opens_the_dispute_window(
    reach: Reach, cal: Calendar, policy: VerificationPolicy
) -> None:
    adjust = decide([finding("V-SEVERITY-UNSUPPORTED", amount=1_200_000)], CLAIMED)
    t = legal(apply(reach(ClaimState.IN_REVIEW), Decide(adjust, MON_2_MAR), cal, policy))
    s = t.status
    assert (s.state, s.dispute_by, s.approved_amount, s.disputable_amount) == (
        ClaimState.VERIFIED_ADJUSTED,
        date(2026, 3, 20),  # Mon 2 March + 14 working days
        2_800_000,
        1_200_000,
    )
    [out] = t.outputs
    assert isinstance(out, VerifiedOut)
    assert (out.approved_amount, out.adjustments, out.dispute_by) == (2_800_000, adjust.adjustments, date(2026, 3, 20))


def test_pending_sets_the_resubmission_deadline(reach: Reach, cal: Calendar, policy: VerificationPolicy) -> None:
    pend = decide([finding("V-DOC-RESUME"), finding("V-DOC-CONSENT")], CLAIMED)
    t = legal(apply(reach(ClaimState.IN_REVIEW), Decide(pend, date(2026, 3, 6)), cal, policy))
    assert (t.status.state, t.status.pended_on, t.status.resubmit_by) == (
        ClaimState.PENDED,
        date(2026, 3, 6),
        date(2026, 3, 17),  # Fri 6 March + 7 working days
    )
    assert t.outputs == (PendedOut(0, SEP, KODE_RS, date(2026, 3, 6), date(2026, 3, 17), pend.reasons),)


def test_rejection_is_disputable_for_the_whole_claim(reach: Reach, cal: Calendar, policy: VerificationPolicy) -> None:
    reject = decide([finding("V-DUP-SEP")], CLAIMED)
    t = legal(apply(reach(ClaimState.IN_REVIEW), Decide(reject, MON_2_MAR), cal, policy))
    assert (t.status.state, t.status.dispute_by, t.status.disputable_amount) == (
        ClaimState.REJECTED,
        date(2026, 3, 20),
        CLAIMED,
    )
    assert t.outputs == (RejectedOut(0, SEP, KODE_RS, MON_2_MAR, reject.reasons),)


def test_hold_for_review_keeps_the_claim_in_review(reach: Reach, cal: Calendar, policy: VerificationPolicy) -> None:
    hold = decide([finding("V-LOS-RANGE"), finding("V-SEVERITY-UNSUPPORTED", amount=100)], CLAIMED)
    status = reach(ClaimState.IN_REVIEW)
    t = legal(apply(status, Decide(hold, MON_2_MAR), cal, policy))
    assert t.status == status
    assert t.outputs == (ReviewRequestedOut(hold.reasons, hold.adjustments),)


def test_decision_on_the_last_day_of_the_window_is_accepted(
    reach: Reach, cal: Calendar, policy: VerificationPolicy
) -> None:
    last_day = date(2026, 3, 12)  # submitted Mon 2 March + 10 calendar days
    legal(apply(reach(ClaimState.IN_REVIEW), Decide(decide([], CLAIMED), last_day), cal, policy))


def test_decision_after_the_completeness_window_is_refused(
    reach: Reach, cal: Calendar, policy: VerificationPolicy
) -> None:
    late = refused(
        apply(reach(ClaimState.IN_REVIEW), Decide(decide([], CLAIMED), date(2026, 3, 13)), cal, policy),
        "V-STATE-DECISION-LATE",
    )
    assert late.state == ClaimState.IN_REVIEW


@pytest.mark.parametrize(
    "state",
    [
        ClaimState.RECEIVED,
        ClaimState.GROUPED,
        ClaimState.RESUBMITTED,
        ClaimState.VERIFIED,
        ClaimState.VERIFIED_ADJUSTED,
        ClaimState.PENDED,
        ClaimState.PEND_EXPIRED,
        ClaimState.REJECTED,
        ClaimState.DISPUTED,
        ClaimState.DISPUTE_RESOLVED,
    ],
)
def test_deciding_a_claim_not_in_review_is_refused(
    reach: Reach, cal: Calendar, policy: VerificationPolicy, state: ClaimState
) -> None:
    refused(apply(reach(state), Decide(decide([], CLAIMED), MON_2_MAR), cal, policy), "V-STATE-NOT-IN-REVIEW")


CUT = Adjustment(reason=reason("V-SEVERITY-UNSUPPORTED"), amount=1_000)


@pytest.mark.parametrize(
    "decision",
    [
        Decision(Outcome.PEND, (), (), 0),  # pend without reasons
        Decision(Outcome.REJECT, (), (), 0),  # reject without reasons
        Decision(Outcome.ADJUST, (), (), CLAIMED),  # adjust without adjustments
        Decision(Outcome.ADJUST, (), (CUT.model_copy(update={"amount": 0}),), CLAIMED),  # adjust by nothing
        Decision(Outcome.VERIFY, (), (CUT,), CLAIMED - 1_000),  # verify with adjustments
        Decision(Outcome.VERIFY, (), (), CLAIMED + 1),  # approves more than grouped
        Decision(Outcome.REJECT, (reason("V-DUP-SEP"),), (), 5),  # pays a rejected claim
    ],
)
def test_inconsistent_decisions_are_refused(
    reach: Reach, cal: Calendar, policy: VerificationPolicy, decision: Decision
) -> None:
    refused(apply(reach(ClaimState.IN_REVIEW), Decide(decision, MON_2_MAR), cal, policy), "V-STATE-DECISION-INVALID")


# --------------------------------------------------------------------------- receive_grouped


def test_receive_grouped_chains_grouped_review_and_decision(
    reach: Reach, cal: Calendar, policy: VerificationPolicy
) -> None:
    t = legal(receive_grouped(reach(ClaimState.RECEIVED), revision(0), decide([], CLAIMED), MON_2_MAR, cal, policy))
    assert t.status.state == ClaimState.VERIFIED
    assert t.outputs == (VerifiedOut(0, SEP, KODE_RS, 0, MON_2_MAR, CLAIMED, CLAIMED),)


def test_receive_grouped_returns_the_refusal_of_a_bad_revision(
    reach: Reach, cal: Calendar, policy: VerificationPolicy
) -> None:
    result = receive_grouped(reach(ClaimState.VERIFIED), revision(1), decide([], CLAIMED), MON_2_MAR, cal, policy)
    refused(result, "V-STATE-RESUBMIT-NOT-PENDED")


def test_receive_grouped_returns_the_refusal_of_a_bad_decision(
    reach: Reach, cal: Calendar, policy: VerificationPolicy
) -> None:
    bad = Decision(Outcome.PEND, (), (), 0)
    refused(
        receive_grouped(reach(ClaimState.RECEIVED), revision(0), bad, MON_2_MAR, cal, policy),
        "V-STATE-DECISION-INVALID",
    )


def test_revision_processed_after_its_window_is_deemed_complete(
    reach: Reach, cal: Calendar, policy: VerificationPolicy
) -> None:
    pend = decide([finding("V-DOC-RESUME")], CLAIMED)
    t = legal(receive_grouped(reach(ClaimState.RECEIVED), revision(0), pend, date(2026, 3, 20), cal, policy))
    assert t.status.state == ClaimState.VERIFIED
    [out] = t.outputs
    assert isinstance(out, VerifiedOut) and out.deemed_complete and out.verified_on == date(2026, 3, 12)


def test_every_state_is_reachable(reach: Reach) -> None:
    assert {reach(s).state for s in ClaimState} == set(ClaimState)


# --------------------------------------------------------------------------- outputs fit the contract


def test_outputs_build_their_contract_payloads() -> None:
    why = reason("V-DOC-RESUME")
    cut = Adjustment(reason=reason("V-SEVERITY-UNSUPPORTED"), amount=1_200_000)
    pairs: list[tuple[type[BaseModel], Output]] = [
        (
            ClaimVerifiedPayload,
            VerifiedOut(0, SEP, KODE_RS, 0, MON_2_MAR, CLAIMED, 2_800_000, (cut,), dispute_by=date(2026, 3, 20)),
        ),
        (ClaimPendedPayload, PendedOut(0, SEP, KODE_RS, MON_2_MAR, date(2026, 3, 11), (why,))),
        (ClaimRejectedPayload, RejectedOut(0, SEP, KODE_RS, MON_2_MAR, (why,))),
        (ClaimDisputeResolvedPayload, DisputeResolvedOut(SEP, KODE_RS, "partial", 5, MON_2_MAR, "t", "n")),
        (ClaimDeadlineReminderPayload, ReminderOut(SEP, KODE_RS, "dispute", date(2026, 3, 20), MON_2_MAR, 14)),
    ]
    for payload_type, out in pairs:
        payload = payload_type.model_validate(payload_fields(out))
        assert payload.model_dump() == {
            k: [x.model_dump() if isinstance(x, BaseModel) else x for x in v] if isinstance(v, list) else v
            for k, v in payload_fields(out).items()
        }


def test_a_claim_not_payable_is_rejected_not_deemed_complete_when_processed_after_its_window(
    reach: Reach, cal: Calendar, policy: VerificationPolicy
) -> None:
    # A duplicate SEP processed after an outage longer than the window must not become payable.
    duplicate = decide([finding("V-DUP-SEP", field="nomor_sep")], CLAIMED)
    late = MON_2_MAR + timedelta(days=30)
    t = legal(receive_grouped(reach(ClaimState.RECEIVED), revision(0), duplicate, late, cal, policy))
    assert t.status.state == ClaimState.REJECTED
    (out,) = t.outputs
    assert isinstance(out, RejectedOut)
    assert [r.code for r in out.reasons] == ["V-DUP-SEP"]
    assert out.rejected_on == MON_2_MAR + timedelta(days=10)  # the window's last day, as a deemed decision


def test_sweep_rejects_instead_of_deeming_complete_when_the_sep_was_verified_elsewhere(
    reach: Reach, cal: Calendar, policy: VerificationPolicy
) -> None:
    held = reach(ClaimState.IN_REVIEW)
    why = reason("V-DUP-SEP", field="nomor_sep", detail="C-OTHER")
    t = legal(apply(held, Sweep(MON_2_MAR + timedelta(days=10), (why,)), cal, policy))
    assert t.status.state == ClaimState.REJECTED
    assert t.status.verification_seq is None  # nothing payable was issued
    assert [type(o) for o in t.outputs] == [RejectedOut]


def test_refusals_name_the_field_they_are_about(reach: Reach, cal: Calendar, policy: VerificationPolicy) -> None:
    late = refused(apply(reach(ClaimState.VERIFIED), revision(3), cal, policy), "V-STATE-RESUBMIT-NOT-PENDED")
    assert late.reason.field == "revision"
