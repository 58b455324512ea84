"""The daily sweep: deemed-complete verifications, expiry of pended claims, deadline reminders."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from services.verifier.domain.deadlines import Calendar, completeness_date, reminder_on
from services.verifier.domain.policy import VerificationPolicy
from services.verifier.domain.rulebook import reason
from services.verifier.domain.states import (
    DISPUTABLE,
    UNDECIDED,
    ClaimState,
    ClaimStatus,
    RejectedOut,
    ReminderKind,
    ReminderOut,
    Sweep,
    Transition,
)
from services.verifier.domain.transitions import deem_complete


def sweep(status: ClaimStatus, cmd: Sweep, cal: Calendar, policy: VerificationPolicy) -> Transition:
    """What the end of business day `cmd.on` does to one claim; idempotent, never refused."""
    if status.state in UNDECIDED:
        assert status.submitted_on is not None
        if cmd.on >= completeness_date(cal, status.submitted_on, policy):
            return deem_complete(status, cal, policy, cmd.blocking)
    elif status.state == ClaimState.PENDED and status.resubmit_by is not None:
        if cmd.on > status.resubmit_by:
            return expire_pending(status)
        return remind(status, "resubmit", cmd, cal, policy)
    elif status.state in DISPUTABLE and not status.disputed and status.dispute_by is not None:
        return remind(status, "dispute", cmd, cal, policy)
    return Transition(status)


def expire_pending(status: ClaimStatus) -> Transition:
    """A pended claim not resubmitted by its deadline is rejected the next day (not disputable)."""
    assert status.resubmit_by is not None
    expired_on = status.resubmit_by + timedelta(days=1)
    why = reason("V-PEND-EXPIRED", detail=f"resubmit_by {status.resubmit_by.isoformat()}")
    out = RejectedOut(status.revision, status.nomor_sep, status.kode_rs, expired_on, (why,))
    return Transition(replace(status, state=ClaimState.PEND_EXPIRED, decided_on=expired_on), (out,))


def remind(
    status: ClaimStatus, kind: ReminderKind, cmd: Sweep, cal: Calendar, policy: VerificationPolicy
) -> Transition:
    """One reminder per deadline, from its reminder day up to the deadline (a missed sweep catches up)."""
    deadline = status.resubmit_by if kind == "resubmit" else status.dispute_by
    assert deadline is not None
    key = (kind, deadline)
    due = reminder_on(cal, deadline, policy) <= cmd.on <= deadline
    if key in status.reminders_sent or not due:
        return Transition(status)
    left = cal.working_days_between(cmd.on, deadline)
    out = ReminderOut(status.nomor_sep, status.kode_rs, kind, deadline, cmd.on, left)
    return Transition(replace(status, reminders_sent=status.reminders_sent | {key}), (out,))
