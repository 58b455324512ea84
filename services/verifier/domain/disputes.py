"""Disputes: a hospital may dispute a correction or a verifier rejection once, within its window.

Disputable: verified_adjusted (the hospital wants the adjustments back) and rejected by the verifier
(DOMAIN: a dispute is the hospital and BPJS disagreeing, and a rejection is the sharpest disagreement).
Not disputable: a full verification (nothing to win) and pend_expired (the hospital missed its own
deadline; nothing was decided on the merits).
"""

from __future__ import annotations

from dataclasses import replace

from services.verifier.domain.states import (
    DISPUTABLE,
    ClaimState,
    ClaimStatus,
    DisputeResolvedOut,
    FileDispute,
    Output,
    ResolveDispute,
    Result,
    Transition,
    VerifiedOut,
)
from services.verifier.domain.transitions import illegal


def file_dispute(status: ClaimStatus, cmd: FileDispute) -> Result:
    """Open the claim's one dispute, by its dispute deadline."""
    if status.disputed:
        return illegal(status, cmd, "V-DISPUTE-REPEATED", str(status.state))
    if status.state not in DISPUTABLE:
        return illegal(status, cmd, "V-DISPUTE-NOT-DISPUTABLE", str(status.state))
    if status.dispute_by is not None and cmd.filed_on > status.dispute_by:
        detail = f"{cmd.filed_on.isoformat()} > {status.dispute_by.isoformat()}"
        return illegal(status, cmd, "V-DISPUTE-LATE", detail)
    disputed = replace(status, state=ClaimState.DISPUTED, disputed=True, requested_amount=cmd.requested_amount)
    return Transition(disputed)


def supplementary_amount(cmd: ResolveDispute, disputed_amount: int) -> int | None:
    """What the ruling pays on top, or None when the amount does not fit the outcome."""
    if cmd.outcome == "denied":
        return 0 if cmd.amount in (None, 0) else None
    if cmd.outcome == "upheld":
        amount = disputed_amount if cmd.amount is None else cmd.amount
        return amount if 0 < amount <= disputed_amount else None
    # partial: strictly between nothing and everything
    return cmd.amount if cmd.amount is not None and 0 < cmd.amount < disputed_amount else None


def resolve_dispute(status: ClaimStatus, cmd: ResolveDispute) -> Result:
    """Close the dispute; when the hospital wins anything, a supplementary verification follows."""
    if status.state != ClaimState.DISPUTED:
        return illegal(status, cmd, "V-DISPUTE-NOT-OPEN", str(status.state))
    amount = supplementary_amount(cmd, status.disputable_amount)
    if amount is None:
        return illegal(status, cmd, "V-DISPUTE-AMOUNT", f"{cmd.outcome} {cmd.amount} of {status.disputable_amount}")
    resolved = DisputeResolvedOut(
        status.nomor_sep, status.kode_rs, cmd.outcome, amount, cmd.resolved_on, cmd.reviewer, cmd.note
    )
    closed = replace(status, state=ClaimState.DISPUTE_RESOLVED)
    if amount == 0:
        return Transition(closed, (resolved,))
    seq = status.next_verification_seq
    supplementary = VerifiedOut(
        status.revision, status.nomor_sep, status.kode_rs, seq, cmd.resolved_on, status.claimed_amount, amount
    )
    outputs: tuple[Output, ...] = (resolved, supplementary)
    return Transition(replace(closed, approved_amount=status.approved_amount + amount, verification_seq=seq), outputs)
