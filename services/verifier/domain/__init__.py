"""The verifier's pure domain: eligibility and document rules, the decision, the claim state machine.

No I/O beyond reading the small tables in `data/` once; no broker or database imports. Working days
come from a `Calendar` passed in (`shared.calendar` in production, a Mon-Fri fake in tests).
"""

from services.verifier.domain.checks import ClaimCheck, run_checks, verify
from services.verifier.domain.deadlines import (
    Calendar,
    add_months,
    completeness_date,
    dispute_by,
    reminder_on,
    resubmit_by,
)
from services.verifier.domain.decision import Decision, decide
from services.verifier.domain.eligibility import Participant
from services.verifier.domain.integrity import Episode
from services.verifier.domain.machine import apply, receive_grouped
from services.verifier.domain.policy import VerificationPolicy
from services.verifier.domain.rulebook import (
    RULE_BY_CODE,
    RULES,
    TRANSITION_RULES,
    VERIFICATION_RULES,
    Finding,
    Outcome,
    RuleSpec,
)
from services.verifier.domain.states import (
    ClaimState,
    ClaimStatus,
    Command,
    Decide,
    DisputeResolvedOut,
    FileDispute,
    Grouped,
    IllegalTransition,
    Output,
    PendedOut,
    RejectedOut,
    ReminderOut,
    ResolveDispute,
    Result,
    ReviewRequestedOut,
    ReviewVerdict,
    StartReview,
    Sweep,
    Transition,
    VerifiedOut,
    payload_fields,
)

__all__ = [
    "RULES",
    "RULE_BY_CODE",
    "TRANSITION_RULES",
    "VERIFICATION_RULES",
    "Calendar",
    "ClaimCheck",
    "ClaimState",
    "ClaimStatus",
    "Command",
    "Decide",
    "Decision",
    "DisputeResolvedOut",
    "Episode",
    "FileDispute",
    "Finding",
    "Grouped",
    "IllegalTransition",
    "Outcome",
    "Output",
    "Participant",
    "PendedOut",
    "RejectedOut",
    "ReminderOut",
    "ResolveDispute",
    "Result",
    "ReviewRequestedOut",
    "ReviewVerdict",
    "RuleSpec",
    "StartReview",
    "Sweep",
    "Transition",
    "VerificationPolicy",
    "VerifiedOut",
    "add_months",
    "apply",
    "completeness_date",
    "decide",
    "dispute_by",
    "payload_fields",
    "receive_grouped",
    "reminder_on",
    "resubmit_by",
    "run_checks",
    "verify",
]
