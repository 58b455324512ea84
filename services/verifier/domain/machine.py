"""One entry point for every command, and the usual chain for a grouped revision."""

from __future__ import annotations

from datetime import date

from services.verifier.domain.deadlines import Calendar, completeness_date
from services.verifier.domain.decision import Decision
from services.verifier.domain.disputes import file_dispute, resolve_dispute
from services.verifier.domain.policy import VerificationPolicy
from services.verifier.domain.review import on_review
from services.verifier.domain.rulebook import Outcome
from services.verifier.domain.states import (
    ClaimStatus,
    Command,
    Decide,
    FileDispute,
    Grouped,
    ResolveDispute,
    Result,
    ReviewVerdict,
    StartReview,
    Sweep,
    Transition,
)
from services.verifier.domain.sweep import sweep
from services.verifier.domain.transitions import deem_complete, on_decision, on_grouped, start_review


def apply(status: ClaimStatus, cmd: Command, cal: Calendar, policy: VerificationPolicy) -> Result:
    """The new status and outputs for one command, or the rule that refuses it."""
    match cmd:
        case Grouped():
            return on_grouped(status, cmd)
        case StartReview():
            return start_review(status, cmd)
        case Decide():
            return on_decision(status, cmd, cal, policy)
        case ReviewVerdict():
            return on_review(status, cmd, cal, policy)
        case FileDispute():
            return file_dispute(status, cmd)
        case ResolveDispute():
            return resolve_dispute(status, cmd)
        case Sweep():
            return sweep(status, cmd, cal, policy)


def receive_grouped(
    status: ClaimStatus,
    cmd: Grouped,
    decision: Decision,
    decided_on: date,
    cal: Calendar,
    policy: VerificationPolicy,
) -> Result:
    """Grouped -> in review -> the rules' decision, as one move.

    If the revision is processed after its completeness window (a long outage), the decision is
    void by law and the claim is deemed complete instead.
    """
    grouped = on_grouped(status, cmd)
    if not isinstance(grouped, Transition):
        return grouped
    reviewing = start_review(grouped.status, StartReview(decided_on))
    assert isinstance(reviewing, Transition)  # grouped and resubmitted always start review
    if decided_on > completeness_date(cal, cmd.submitted_on, policy):
        blocking = decision.reasons if decision.outcome == Outcome.REJECT else ()
        return deem_complete(reviewing.status, cal, policy, blocking)
    decided = on_decision(reviewing.status, Decide(decision, decided_on), cal, policy)
    if not isinstance(decided, Transition):
        return decided
    return Transition(decided.status, grouped.outputs + reviewing.outputs + decided.outputs)
