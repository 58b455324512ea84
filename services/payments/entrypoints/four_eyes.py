"""Four eyes: a money command is held until a second finance operator approves it, then applied.

The kernel has already checked both commands' signatures and roles (shared/operators.py): a request
comes from a finance maker (or VEDIKA), an approval from a finance approver. What only this service can
check is that the approver is not the requester: it knows who requested. A self-approval is refused as
`unauthorized` (dead-lettered, nothing paid) and the request stays held for someone else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog

from services.payments.adapters import repository as repo
from shared.consumer import PermanentError
from shared.events import ApprovalGranted, Envelope, FundsAllocated, parse_event_obj
from shared.operators import ACTOR_FIELDS, UNAUTHORIZED, approval_subject
from shared.outbox import Tx

log = structlog.get_logger(__name__)

Release = Callable[[Tx, Envelope, ApprovalGranted], Awaitable[None]]


def requester(command: Envelope) -> str:
    """Who asked (the kernel made sure it is the operator who signed)."""
    return str(getattr(command.payload, ACTOR_FIELDS[command.event_type]))  # type: ignore[attr-defined]


async def hold(tx: Tx, command: Envelope) -> None:
    """Keep the request until it is approved; the same request sent again is absorbed, a different one refused."""
    kind, subject_id = approval_subject(command)
    document = command.model_dump(mode="json")
    held = await repo.hold_command(
        tx.conn, kind, subject_id, document, requester(command), command.event_id, command.occurred_at
    )
    if held is None:
        log.info("held for approval", subject_kind=kind, subject_id=subject_id, requested_by=requester(command))
        return
    recorded, received = held.command.get("payload") or {}, document["payload"]
    differing = sorted(k for k in received.keys() | recorded.keys() if recorded.get(k) != received.get(k))
    if differing:
        field = differing[0]
        raise PermanentError(
            f"conflicting-{field}",
            f"{kind} {subject_id}: payload.{field} is {_brief(received.get(field))}, but "
            f"{_brief(recorded.get(field))} was requested under the same id by {held.requested_by}; use a new id",
        )


def _brief(value: object, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}…"


async def approve(tx: Tx, approval: ApprovalGranted, release: Release) -> None:
    """Apply the held request once a finance approver other than its requester approves it."""
    a = approval.payload
    held = await repo.held_command(tx.conn, a.subject_kind, a.subject_id, lock=True)
    if held is None:
        raise PermanentError(
            "approval-unknown-subject", f"payload.subject_id: no {a.subject_kind} {a.subject_id} is held for approval"
        )
    if a.approved_by == held.requested_by:
        raise PermanentError(
            UNAUTHORIZED,
            f"payload.approved_by: {a.approved_by} requested {a.subject_kind} {a.subject_id} and may not approve it; "
            "a different finance_approver must (rule FOUR-EYES)",
        )
    if held.approved_by is not None:
        log.info("already approved", subject_kind=a.subject_kind, subject_id=a.subject_id, by=held.approved_by)
        return
    await repo.mark_approved(
        tx.conn, a.subject_kind, a.subject_id, a.approved_by, approval.event_id, approval.occurred_at
    )
    await release(tx, parse_event_obj(held.command), approval)
    log.info("approved and applied", subject_kind=a.subject_kind, subject_id=a.subject_id,
             requested_by=held.requested_by, approved_by=a.approved_by)  # fmt: skip


async def allocate_funds(tx: Tx, command: FundsAllocated, approval: ApprovalGranted) -> None:
    """An approved allocation: the day's scheduled run may spend it."""
    p = command.payload
    await repo.add_allocation(
        tx.conn, p.allocation_id, p.business_date, p.amount, p.allocated_by, approval.payload.approved_by
    )
