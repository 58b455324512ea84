"""A reviewer's verdict on a claim held for review, turned into a decision the state machine applies."""

from __future__ import annotations

from services.verifier.domain.deadlines import Calendar
from services.verifier.domain.decision import Decision
from services.verifier.domain.policy import VerificationPolicy
from services.verifier.domain.rulebook import Outcome, reason
from services.verifier.domain.states import ClaimState, ClaimStatus, Decide, Result, ReviewVerdict
from services.verifier.domain.transitions import illegal, on_decision
from shared.events import Adjustment, Reason

# A missing document type maps to the rule that asks for it; anything else is the reviewer's own pend.
MISSING_DOCUMENT_CODES: dict[str, str] = {
    "resume_medis": "V-DOC-RESUME",
    "informed_consent": "V-DOC-CONSENT",
    "lab_result": "V-DOC-SUPPORT",
    "radiology_result": "V-DOC-SUPPORT",
    "supporting_result": "V-DOC-SUPPORT",
    "referral_letter": "V-DOC-REFERRAL",
}


def _detail(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def missing_reasons(verdict: ReviewVerdict) -> tuple[Reason, ...]:
    """One reason per missing document type, or the reviewer's note when none is named."""
    if not verdict.missing:
        return (reason("V-REVIEW-PEND", field="documents", detail=verdict.note),)
    return tuple(
        reason(MISSING_DOCUMENT_CODES.get(t, "V-REVIEW-PEND"), field="documents", detail=_detail(t, verdict.note))
        for t in verdict.missing
    )


def verdict_decision(verdict: ReviewVerdict, claimed_amount: int) -> Decision | None:
    """The decision a verdict stands for; None for an adjust without an amount below the claim."""
    if verdict.outcome == "verify":
        return Decision(Outcome.VERIFY, (), (), claimed_amount)
    if verdict.outcome == "pend":
        return Decision(Outcome.PEND, missing_reasons(verdict), (), 0)
    if verdict.outcome == "reject":
        return Decision(Outcome.REJECT, (reason("V-REVIEW-REJECT", detail=verdict.note),), (), 0)
    approved = verdict.approved_amount
    if approved is None or not 0 <= approved < claimed_amount:
        return None
    why = reason("V-REVIEW-ADJUST", detail=verdict.note)
    return Decision(Outcome.ADJUST, (why,), (Adjustment(reason=why, amount=claimed_amount - approved),), approved)


def on_review(status: ClaimStatus, cmd: ReviewVerdict, cal: Calendar, policy: VerificationPolicy) -> Result:
    """Apply a reviewer's verdict to a claim in review."""
    if status.state != ClaimState.IN_REVIEW:
        return illegal(status, cmd, "V-STATE-NOT-IN-REVIEW", str(status.state))
    decision = verdict_decision(cmd, status.claimed_amount)
    if decision is None:
        detail = f"adjust to {cmd.approved_amount} of {status.claimed_amount}"
        return illegal(status, cmd, "V-STATE-DECISION-INVALID", detail)
    return on_decision(status, Decide(decision, cmd.decided_on), cal, policy)
