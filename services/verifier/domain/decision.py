"""Combining findings into one decision: reject > pend > hold for review > adjust > verify."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from services.verifier.domain.rulebook import PRECEDENCE, Finding, Outcome
from shared.events import Adjustment, Reason

# Outcomes that leave an amount on the table: a review proposes one, adjust and verify settle it.
_PAYABLE = frozenset({Outcome.REVIEW, Outcome.ADJUST, Outcome.VERIFY})


@dataclass(frozen=True)
class Decision:
    """The verifier's decision on one revision of a claim.

    `reasons` are those of the deciding outcome (what the event carries); `adjustments` are applied
    for adjust and proposed for review; `approved_amount` is 0 for pend and reject; `findings` keeps
    every finding, outweighed ones included, for the audit trail and the reviewer.
    """

    outcome: Outcome
    reasons: tuple[Reason, ...]
    adjustments: tuple[Adjustment, ...]
    approved_amount: int
    findings: tuple[Finding, ...] = ()


def approved_for(outcome: Outcome, claimed_amount: int, adjustments: Sequence[Adjustment]) -> int:
    """The grouped tariff less the adjustments (never below 0); nothing for pend or reject."""
    if outcome not in _PAYABLE:
        return 0
    return max(claimed_amount - sum(a.amount for a in adjustments), 0)


def decide(findings: Iterable[Finding], claimed_amount: int) -> Decision:
    """The strongest outcome among the findings wins; no findings means verify in full."""
    found = tuple(findings)
    outcome = min((f.outcome for f in found), key=PRECEDENCE.index, default=Outcome.VERIFY)
    reasons = tuple(f.reason for f in found if f.outcome == outcome)
    # Under pend or reject the claim is not payable as filed, so corrections wait for the next revision.
    adjustments = (
        tuple(Adjustment(reason=f.reason, amount=f.amount) for f in found if f.outcome == Outcome.ADJUST)
        if outcome in (Outcome.REVIEW, Outcome.ADJUST)
        else ()
    )
    return Decision(outcome, reasons, adjustments, approved_for(outcome, claimed_amount, adjustments), found)
