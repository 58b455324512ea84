"""A reviewer's verdict on a claim held for review."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from services.verifier.domain import (
    Calendar,
    ClaimState,
    ClaimStatus,
    IllegalTransition,
    PendedOut,
    RejectedOut,
    Result,
    ReviewVerdict,
    Transition,
    VerificationPolicy,
    VerifiedOut,
    apply,
)
from shared.events import ReviewDecisionRequestedPayload

Reach = Callable[[ClaimState], ClaimStatus]
CLAIMED = 4_000_000
WED_4_MAR = date(2026, 3, 4)


def legal(result: Result) -> Transition:
    assert isinstance(result, Transition), result
    return result


def refused(result: Result, code: str) -> None:
    assert isinstance(result, IllegalTransition), result
    assert result.reason.code == code


def verdict(outcome: str, **kw: object) -> ReviewVerdict:
    return ReviewVerdict(outcome, "verifikator.andi", WED_4_MAR, **kw)  # type: ignore[arg-type]


def test_reviewer_verifies_in_full(reach: Reach, cal: Calendar, policy: VerificationPolicy) -> None:
    t = legal(apply(reach(ClaimState.IN_REVIEW), verdict("verify"), cal, policy))
    [out] = t.outputs
    assert t.status.state == ClaimState.VERIFIED
    assert isinstance(out, VerifiedOut) and (out.approved_amount, out.adjustments) == (CLAIMED, ())


@pytest.mark.parametrize("approved", [2_800_000, 0])
def test_reviewer_corrects_to_an_approved_amount(
    reach: Reach, cal: Calendar, policy: VerificationPolicy, approved: int
) -> None:
    cmd = verdict("adjust", note="LOS tidak didukung", approved_amount=approved)
    t = legal(apply(reach(ClaimState.IN_REVIEW), cmd, cal, policy))
    [out] = t.outputs
    assert t.status.state == ClaimState.VERIFIED_ADJUSTED
    assert t.status.dispute_by == date(2026, 3, 24)  # Wed 4: Thu 5 .. Fri 20 (12), Mon 23, Tue 24 (14)
    assert isinstance(out, VerifiedOut) and out.approved_amount == approved
    [cut] = out.adjustments
    assert (cut.amount, cut.reason.code) == (CLAIMED - approved, "V-REVIEW-ADJUST")
    assert cut.reason.message_en == "Corrected by the reviewer (LOS tidak didukung)"


@pytest.mark.parametrize("approved", [None, CLAIMED, CLAIMED + 1])
def test_correction_without_a_lower_amount_is_refused(
    reach: Reach, cal: Calendar, policy: VerificationPolicy, approved: int | None
) -> None:
    cmd = verdict("adjust", approved_amount=approved)
    refused(apply(reach(ClaimState.IN_REVIEW), cmd, cal, policy), "V-STATE-DECISION-INVALID")


def test_reviewer_pends_for_named_documents(reach: Reach, cal: Calendar, policy: VerificationPolicy) -> None:
    cmd = verdict("pend", note="lengkapi", missing=("informed_consent", "operation_report"))
    t = legal(apply(reach(ClaimState.IN_REVIEW), cmd, cal, policy))
    [out] = t.outputs
    assert isinstance(out, PendedOut) and out.resubmit_by == date(2026, 3, 13)  # Wed 4 + 7 working days
    assert [(r.code, r.field) for r in out.missing] == [
        ("V-DOC-CONSENT", "documents"),
        ("V-REVIEW-PEND", "documents"),
    ]
    assert out.missing[1].message_id == "Dikembalikan verifikator untuk dilengkapi (operation_report; lengkapi)"


def test_reviewer_pend_without_named_documents_carries_the_note(
    reach: Reach, cal: Calendar, policy: VerificationPolicy
) -> None:
    [out] = legal(apply(reach(ClaimState.IN_REVIEW), verdict("pend", note="CPPT"), cal, policy)).outputs
    assert isinstance(out, PendedOut) and [r.message_en for r in out.missing] == [
        "Returned by the reviewer for completion (CPPT)"
    ]


def test_reviewer_rejects(reach: Reach, cal: Calendar, policy: VerificationPolicy) -> None:
    t = legal(apply(reach(ClaimState.IN_REVIEW), verdict("reject", note="fragmentasi"), cal, policy))
    [out] = t.outputs
    assert t.status.state == ClaimState.REJECTED
    assert isinstance(out, RejectedOut) and [r.code for r in out.reasons] == ["V-REVIEW-REJECT"]


@pytest.mark.parametrize(
    "state", [ClaimState.GROUPED, ClaimState.PENDED, ClaimState.VERIFIED, ClaimState.REJECTED, ClaimState.DISPUTED]
)
def test_verdict_on_a_claim_not_in_review_is_refused(
    reach: Reach, cal: Calendar, policy: VerificationPolicy, state: ClaimState
) -> None:
    refused(apply(reach(state), verdict("adjust"), cal, policy), "V-STATE-NOT-IN-REVIEW")


def test_verdict_after_the_completeness_window_is_refused(
    reach: Reach, cal: Calendar, policy: VerificationPolicy
) -> None:
    late = ReviewVerdict("verify", "verifikator.andi", date(2026, 3, 13))  # window ended Thu 12 March
    refused(apply(reach(ClaimState.IN_REVIEW), late, cal, policy), "V-STATE-DECISION-LATE")


def test_verdict_from_the_contract_payload() -> None:
    payload = ReviewDecisionRequestedPayload(
        outcome="pend", reviewer="verifikator.andi", note="n", missing=["resume_medis"]
    )
    assert ReviewVerdict.from_payload(payload, WED_4_MAR) == ReviewVerdict(
        "pend", "verifikator.andi", WED_4_MAR, "n", None, ("resume_medis",)
    )
