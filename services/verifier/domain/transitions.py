"""Transitions of the verification flow: grouped revision, start of review, decision."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from services.verifier.domain.deadlines import Calendar, completeness_date, dispute_by, resubmit_by
from services.verifier.domain.decision import Decision, approved_for
from services.verifier.domain.policy import VerificationPolicy
from services.verifier.domain.rulebook import Outcome, reason
from services.verifier.domain.states import (
    UNDECIDED,
    ClaimState,
    ClaimStatus,
    Decide,
    Grouped,
    IllegalTransition,
    PendedOut,
    RejectedOut,
    Result,
    ReviewRequestedOut,
    StartReview,
    Transition,
    VerifiedOut,
)
from shared.events import Reason

# The event field each refusal is about, so a hospital's system can point at it.
REFUSED_FIELD: dict[str, str] = {
    "V-STATE-REVISION": "revision",
    "V-STATE-RESUBMIT-NOT-PENDED": "revision",
    "V-STATE-RESUBMIT-LATE": "submitted_on",
    "V-STATE-DECISION-LATE": "decided_on",
    "V-STATE-DECISION-INVALID": "outcome",
    "V-DISPUTE-NOT-DISPUTABLE": "claim_id",
    "V-DISPUTE-LATE": "disputed_on",
    "V-DISPUTE-REPEATED": "claim_id",
    "V-DISPUTE-NOT-OPEN": "claim_id",
    "V-DISPUTE-AMOUNT": "amount",
    "V-STATE-NOT-IN-REVIEW": "claim_id",
    "V-STATE-NOT-GROUPED": "claim_id",
}


def illegal(status: ClaimStatus, command: object, code: str, detail: str = "") -> IllegalTransition:
    """A refusal naming the rule and the field; `detail` is language-neutral (dates, numbers, states)."""
    why = reason(code, field=REFUSED_FIELD.get(code), detail=detail)
    return IllegalTransition(status.state, type(command).__name__, why)


def on_grouped(status: ClaimStatus, cmd: Grouped) -> Result:
    """Revision 0 opens the claim; revision n resubmits a pended claim by its deadline."""
    if cmd.revision == 0 and status.state != ClaimState.RECEIVED:
        return illegal(status, cmd, "V-STATE-REVISION", f"0 after {status.revision}")
    if cmd.revision > 0:
        if status.state != ClaimState.PENDED:
            return illegal(status, cmd, "V-STATE-RESUBMIT-NOT-PENDED", str(status.state))
        # Greater, not necessarily the next: a revision the grouper rejected never reaches the verifier.
        if cmd.revision <= status.revision:
            return illegal(status, cmd, "V-STATE-REVISION", f"{cmd.revision} after {status.revision}")
        if status.resubmit_by is not None and cmd.submitted_on > status.resubmit_by:
            detail = f"{cmd.submitted_on.isoformat()} > {status.resubmit_by.isoformat()}"
            return illegal(status, cmd, "V-STATE-RESUBMIT-LATE", detail)
    first = cmd.revision == 0
    return Transition(
        replace(
            status,
            state=ClaimState.GROUPED if first else ClaimState.RESUBMITTED,
            nomor_sep=cmd.nomor_sep,
            kode_rs=cmd.kode_rs,
            revision=cmd.revision,
            first_submitted_on=cmd.submitted_on if first else status.first_submitted_on,
            submitted_on=cmd.submitted_on,
            claimed_amount=cmd.claimed_amount,
            decided_on=None,
            pended_on=None,
            resubmit_by=None,
        )
    )


def start_review(status: ClaimStatus, cmd: StartReview) -> Result:
    """A grouped or resubmitted revision goes into review."""
    if status.state not in (ClaimState.GROUPED, ClaimState.RESUBMITTED):
        return illegal(status, cmd, "V-STATE-NOT-GROUPED", str(status.state))
    return Transition(replace(status, state=ClaimState.IN_REVIEW))


def decision_problem(status: ClaimStatus, decision: Decision) -> str | None:
    """Why a decision is inconsistent with itself or the claim, or None."""
    d = decision
    if d.outcome in (Outcome.PEND, Outcome.REJECT) and not d.reasons:
        return f"{d.outcome} without reasons"
    if d.outcome == Outcome.ADJUST and sum(a.amount for a in d.adjustments) <= 0:
        return "adjust without a reduction"
    if d.outcome == Outcome.VERIFY and d.adjustments:
        return "verify with adjustments"
    if d.approved_amount != approved_for(d.outcome, status.claimed_amount, d.adjustments):
        return f"approved {d.approved_amount} for claimed {status.claimed_amount}"
    return None


def on_decision(status: ClaimStatus, cmd: Decide, cal: Calendar, policy: VerificationPolicy) -> Result:
    """Apply a decision to a claim in review, within its completeness window."""
    if status.state != ClaimState.IN_REVIEW:
        return illegal(status, cmd, "V-STATE-NOT-IN-REVIEW", str(status.state))
    assert status.submitted_on is not None  # set by on_grouped
    deadline = completeness_date(cal, status.submitted_on, policy)
    if cmd.decided_on > deadline:
        return illegal(status, cmd, "V-STATE-DECISION-LATE", f"{cmd.decided_on} > {deadline}")
    problem = decision_problem(status, cmd.decision)
    if problem is not None:
        return illegal(status, cmd, "V-STATE-DECISION-INVALID", problem)
    return _apply_decision(status, cmd.decision, cmd.decided_on, cal, policy)


def _apply_decision(
    status: ClaimStatus, d: Decision, on: date, cal: Calendar, policy: VerificationPolicy
) -> Transition:
    if d.outcome == Outcome.REVIEW:
        return Transition(status, (ReviewRequestedOut(d.reasons, d.adjustments),))
    if d.outcome == Outcome.PEND:
        return _pend(status, d, on, cal, policy)
    if d.outcome == Outcome.REJECT:
        return _reject(status, d, on, cal, policy)
    return _verify(status, d, on, cal, policy)


def _pend(status: ClaimStatus, d: Decision, on: date, cal: Calendar, policy: VerificationPolicy) -> Transition:
    by = resubmit_by(cal, on, policy)
    pended = replace(status, state=ClaimState.PENDED, decided_on=on, pended_on=on, resubmit_by=by)
    out = PendedOut(status.revision, status.nomor_sep, status.kode_rs, on, by, d.reasons)
    return Transition(pended, (out,))


def _reject(status: ClaimStatus, d: Decision, on: date, cal: Calendar, policy: VerificationPolicy) -> Transition:
    # A rejection on the merits is disputable for the whole grouped amount.
    by = dispute_by(cal, on, policy)
    rejected = replace(
        status,
        state=ClaimState.REJECTED,
        decided_on=on,
        dispute_by=by,
        disputable_amount=status.claimed_amount,
    )
    out = RejectedOut(status.revision, status.nomor_sep, status.kode_rs, on, d.reasons)
    return Transition(rejected, (out,))


def _verify(status: ClaimStatus, d: Decision, on: date, cal: Calendar, policy: VerificationPolicy) -> Transition:
    # Only a correction is disputable: a full verification leaves nothing to dispute.
    adjusted = d.outcome == Outcome.ADJUST
    by = dispute_by(cal, on, policy) if adjusted else None
    seq = status.next_verification_seq
    verified = replace(
        status,
        state=ClaimState.VERIFIED_ADJUSTED if adjusted else ClaimState.VERIFIED,
        decided_on=on,
        dispute_by=by,
        approved_amount=d.approved_amount,
        disputable_amount=status.claimed_amount - d.approved_amount,
        verification_seq=seq,
    )
    out = VerifiedOut(
        status.revision,
        status.nomor_sep,
        status.kode_rs,
        seq,
        on,
        status.claimed_amount,
        d.approved_amount,
        d.adjustments,
        dispute_by=by,
    )
    return Transition(verified, (out,))


def deem_complete(
    status: ClaimStatus, cal: Calendar, policy: VerificationPolicy, blocking: tuple[Reason, ...] = ()
) -> Transition:
    """No decision within the completeness window: verified in full on the window's last day.

    Completeness is all the window can settle: a claim that is not payable at all (`blocking`:
    duplicate SEP, member not eligible, submitted after expiry) is rejected that day instead.
    """
    assert status.state in UNDECIDED and status.submitted_on is not None
    on = completeness_date(cal, status.submitted_on, policy)
    if blocking:
        return _reject(status, Decision(Outcome.REJECT, blocking, (), 0), on, cal, policy)
    seq = status.next_verification_seq
    verified = replace(
        status,
        state=ClaimState.VERIFIED,
        decided_on=on,
        dispute_by=None,
        approved_amount=status.claimed_amount,
        disputable_amount=0,
        verification_seq=seq,
    )
    out = VerifiedOut(
        status.revision,
        status.nomor_sep,
        status.kode_rs,
        seq,
        on,
        status.claimed_amount,
        status.claimed_amount,
        deemed_complete=True,
    )
    return Transition(verified, (out,))
