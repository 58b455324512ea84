"""Per-claim state, the commands that move it, the outputs it emits, and the two kinds of result.

Outputs are plain dataclasses whose fields are exactly those of the matching contract payload
(VerifiedOut -> ClaimVerifiedPayload, ...), so `Payload.model_validate(payload_fields(out))` builds it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date
from enum import StrEnum
from typing import Literal

from services.verifier.domain.decision import Decision
from shared.events import (
    Adjustment,
    ClaimDisputedPayload,
    ClaimGroupedPayload,
    DisputeResolutionRequestedPayload,
    Reason,
    ReviewDecisionRequestedPayload,
)

ReminderKind = Literal["resubmit", "dispute"]
DisputeOutcome = Literal["upheld", "partial", "denied"]
ReviewOutcome = Literal["verify", "adjust", "pend", "reject"]


class ClaimState(StrEnum):
    """Where a claim is in verification; the values are what the adapter stores."""

    RECEIVED = "received"
    GROUPED = "grouped"
    IN_REVIEW = "in_review"
    VERIFIED = "verified"
    VERIFIED_ADJUSTED = "verified_adjusted"
    PENDED = "pended"
    RESUBMITTED = "resubmitted"
    PEND_EXPIRED = "pend_expired"
    REJECTED = "rejected"
    DISPUTED = "disputed"
    DISPUTE_RESOLVED = "dispute_resolved"


UNDECIDED = frozenset({ClaimState.GROUPED, ClaimState.RESUBMITTED, ClaimState.IN_REVIEW})
DISPUTABLE = frozenset({ClaimState.VERIFIED_ADJUSTED, ClaimState.REJECTED})


@dataclass(frozen=True)
class ClaimStatus:
    """What the verifier keeps per claim: state, current revision, amounts and deadlines."""

    claim_id: str
    state: ClaimState = ClaimState.RECEIVED
    nomor_sep: str = ""
    kode_rs: str = ""
    revision: int = -1  # last grouped revision; -1 before the first
    first_submitted_on: date | None = None
    submitted_on: date | None = None  # of the current revision: starts its completeness window
    claimed_amount: int = 0  # grouped total tariff of the current revision
    decided_on: date | None = None
    pended_on: date | None = None
    resubmit_by: date | None = None
    dispute_by: date | None = None
    disputed: bool = False
    requested_amount: int | None = None  # what the hospital asked for in its dispute
    approved_amount: int = 0  # total approved over all verifications
    disputable_amount: int = 0  # what a dispute can win: the adjustments, or the whole claim if rejected
    verification_seq: int | None = None  # last verification issued; None: none yet
    reminders_sent: frozenset[tuple[ReminderKind, date]] = frozenset()

    @property
    def has_verification(self) -> bool:
        """Whether a payable verification exists (what the duplicate-SEP rule counts as verified)."""
        return self.verification_seq is not None

    @property
    def next_verification_seq(self) -> int:
        """0 for the main verification, then 1, 2, ... for supplementary ones."""
        return 0 if self.verification_seq is None else self.verification_seq + 1


# ----------------------------------------------------------------------------------------- commands


@dataclass(frozen=True)
class Grouped:
    """A grouped revision arrived (revision 0: first submission; n: the n-th resubmission)."""

    revision: int
    submitted_on: date
    nomor_sep: str
    kode_rs: str
    claimed_amount: int

    @classmethod
    def from_payload(cls, p: ClaimGroupedPayload) -> Grouped:
        """The command a `claims.grouped` payload carries."""
        return cls(p.revision, p.submitted_on, p.claim.nomor_sep, p.claim.kode_rs, p.grouping.total_tarif)


@dataclass(frozen=True)
class StartReview:
    """Verification of the current revision starts."""

    on: date


@dataclass(frozen=True)
class Decide:
    """A decision by the rules or a reviewer."""

    decision: Decision
    decided_on: date


@dataclass(frozen=True)
class ReviewVerdict:
    """A reviewer's decision on a claim held for review (`approved_amount` for adjust, `missing` for pend)."""

    outcome: ReviewOutcome
    reviewer: str
    decided_on: date
    note: str = ""
    approved_amount: int | None = None
    missing: tuple[str, ...] = ()

    @classmethod
    def from_payload(cls, p: ReviewDecisionRequestedPayload, decided_on: date) -> ReviewVerdict:
        """The command a `ReviewDecisionRequested` payload carries, on the business date it arrived."""
        return cls(p.outcome, p.reviewer, decided_on, p.note, p.approved_amount, tuple(p.missing))


@dataclass(frozen=True)
class FileDispute:
    """The hospital disputes the decision."""

    filed_on: date
    requested_amount: int

    @classmethod
    def from_payload(cls, p: ClaimDisputedPayload) -> FileDispute:
        """The command a `claims.disputed` payload carries."""
        return cls(p.disputed_on, p.requested_amount)


@dataclass(frozen=True)
class ResolveDispute:
    """The dispute team's ruling; `amount` is the supplementary amount given (None: upheld in full)."""

    outcome: DisputeOutcome
    resolved_on: date
    reviewer: str
    note: str
    amount: int | None = None

    @classmethod
    def from_payload(cls, p: DisputeResolutionRequestedPayload, resolved_on: date) -> ResolveDispute:
        """The command a `DisputeResolutionRequested` payload carries, on the business date it arrived."""
        return cls(p.outcome, resolved_on, p.reviewer, p.note, p.amount)


@dataclass(frozen=True)
class Sweep:
    """The daily sweep at the end of business day `on`: deemed complete, pend expiry, reminders.

    `blocking`: reasons found at sweep time that make the claim not payable (a duplicate SEP
    verified meanwhile); a claim deemed complete is rejected with them instead of verified.
    """

    on: date
    blocking: tuple[Reason, ...] = ()


Command = Grouped | StartReview | Decide | ReviewVerdict | FileDispute | ResolveDispute | Sweep

# ------------------------------------------------------------------------------------------ outputs


@dataclass(frozen=True)
class VerifiedOut:
    """-> ClaimVerifiedPayload."""

    revision: int
    nomor_sep: str
    kode_rs: str
    verification_seq: int
    verified_on: date
    claimed_amount: int
    approved_amount: int
    adjustments: tuple[Adjustment, ...] = ()
    deemed_complete: bool = False
    dispute_by: date | None = None


@dataclass(frozen=True)
class PendedOut:
    """-> ClaimPendedPayload."""

    revision: int
    nomor_sep: str
    kode_rs: str
    pended_on: date
    resubmit_by: date
    missing: tuple[Reason, ...]


@dataclass(frozen=True)
class RejectedOut:
    """-> ClaimRejectedPayload (stage verifier)."""

    revision: int
    nomor_sep: str
    kode_rs: str
    rejected_on: date
    reasons: tuple[Reason, ...]
    stage: Literal["verifier"] = "verifier"
    refusal: bool = False  # the claim itself is rejected (a refused event is answered by the adapter)


@dataclass(frozen=True)
class DisputeResolvedOut:
    """-> ClaimDisputeResolvedPayload."""

    nomor_sep: str
    kode_rs: str
    outcome: DisputeOutcome
    supplementary_amount: int
    resolved_on: date
    reviewer: str
    note: str


@dataclass(frozen=True)
class ReminderOut:
    """-> ClaimDeadlineReminderPayload: a hospital deadline is a few working days away."""

    nomor_sep: str
    kode_rs: str
    deadline_kind: ReminderKind
    deadline: date
    as_of: date
    working_days_left: int


@dataclass(frozen=True)
class ReviewRequestedOut:
    """The rules hold the claim for a human reviewer (operator queue; no contract event)."""

    reasons: tuple[Reason, ...]
    proposed_adjustments: tuple[Adjustment, ...] = ()


Output = VerifiedOut | PendedOut | RejectedOut | DisputeResolvedOut | ReminderOut | ReviewRequestedOut


def payload_fields(out: Output) -> dict[str, object]:
    """An output's fields by name, tuples as lists: the keyword arguments of its contract payload."""
    values = {f.name: getattr(out, f.name) for f in fields(out)}
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


# ------------------------------------------------------------------------------------------ results


@dataclass(frozen=True)
class Transition:
    """A legal move: the new status and what to emit."""

    status: ClaimStatus
    outputs: tuple[Output, ...] = ()


@dataclass(frozen=True)
class IllegalTransition:
    """A refused move: the state it was refused in and the rule that refuses it."""

    state: ClaimState
    command: str
    reason: Reason


Result = Transition | IllegalTransition
