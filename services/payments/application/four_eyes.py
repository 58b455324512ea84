"""Four eyes: a money command is held until a second finance operator approves it, then applied.

The kernel has already checked both commands' signatures and roles (shared/operators.py): a request
comes from a finance maker (or VEDIKA), an approval from a finance approver. What only this service can
check is that the approver is not the requester: it knows who requested. A self-approval is refused as
`unauthorized` (dead-lettered, nothing paid) and the request stays held for someone else.

A batch of requests is held with one insert (and one read when some were held before); a batch of
approvals locks its held requests with one read, then releases each in its order.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import structlog

from services.payments.adapters.approvals import Approval, HoldRequest, Subject
from services.payments.adapters.repository import HeldCommand
from services.payments.adapters.runs import Allocation
from services.payments.application.config import Config
from services.payments.application.ports import UnitOfWorkLike
from shared.consumer import PermanentError
from shared.events import ApprovalGranted, Envelope, FundsAllocated, parse_event_obj
from shared.operators import ACTOR_FIELDS, UNAUTHORIZED, approval_subject

log = structlog.get_logger(__name__)

# What applying an approved command means, one function per held command type (the release table).
Release = Callable[[Config, UnitOfWorkLike, Any, ApprovalGranted], Awaitable[None]]


def requester(command: Envelope) -> str:
    """Who asked (the kernel made sure it is the operator who signed)."""
    return str(getattr(command.payload, ACTOR_FIELDS[command.event_type]))  # type: ignore[attr-defined]


def hold_request(command: Envelope) -> HoldRequest:
    kind, subject_id = approval_subject(command)
    return HoldRequest(
        kind, subject_id, command.model_dump(mode="json"), requester(command), command.event_id, command.occurred_at
    )


async def hold(config: Config, uow: UnitOfWorkLike, commands: Sequence[Envelope]) -> None:
    """Keep each request until it is approved; the same request sent again is absorbed, a different one refused."""
    first: dict[Subject, HoldRequest] = {}  # the first request of each subject in the batch
    again: list[HoldRequest] = []  # the same subject later in the batch: judged against the first
    for request in map(hold_request, commands):
        if request.subject in first:
            again.append(request)
        else:
            first[request.subject] = request
    earlier = await uow.held.hold(list(first.values()))
    for request in first.values():
        if request.subject in earlier:
            refuse_if_different(earlier[request.subject], request)
        else:
            log.info("held for approval", subject_kind=request.subject_kind, subject_id=request.subject_id,
                     requested_by=request.requested_by)  # fmt: skip
    for request in again:
        held = earlier.get(request.subject) or as_held(first[request.subject])
        refuse_if_different(held, request)


def as_held(request: HoldRequest) -> HeldCommand:
    return HeldCommand(request.subject_kind, request.subject_id, request.command, request.requested_by, None)


def refuse_if_different(held: HeldCommand, request: HoldRequest) -> None:
    recorded, received = held.command.get("payload") or {}, request.command["payload"]
    differing = sorted(k for k in received.keys() | recorded.keys() if recorded.get(k) != received.get(k))
    if differing:
        field = differing[0]
        raise PermanentError(
            f"conflicting-{field}",
            f"{request.subject_kind} {request.subject_id}: payload.{field} is {_brief(received.get(field))}, but "
            f"{_brief(recorded.get(field))} was requested under the same id by {held.requested_by}; use a new id",
        )


def _brief(value: object, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}…"


Releases = Mapping[type[Envelope], Release]


async def approve(
    config: Config, releases: Releases, uow: UnitOfWorkLike, approvals: Sequence[ApprovalGranted]
) -> None:
    """Apply each held request once a finance approver other than its requester approves it, in batch order."""
    held = await uow.held.lock({(a.payload.subject_kind, a.payload.subject_id) for a in approvals})
    for approval in approvals:
        a = approval.payload
        subject = (a.subject_kind, a.subject_id)
        request = held.get(subject)
        if request is None:
            raise PermanentError(
                "approval-unknown-subject",
                f"payload.subject_id: no {a.subject_kind} {a.subject_id} is held for approval",
            )
        if a.approved_by == request.requested_by:
            raise PermanentError(
                UNAUTHORIZED,
                f"payload.approved_by: {a.approved_by} requested {a.subject_kind} {a.subject_id} and may not approve "
                "it; a different finance_approver must (rule FOUR-EYES)",
            )
        if request.approved_by is not None:
            log.info("already approved", subject_kind=a.subject_kind, subject_id=a.subject_id, by=request.approved_by)
            continue
        uow.held.approve(Approval(subject, a.approved_by, approval.event_id, approval.occurred_at))
        held[subject] = replace(request, approved_by=a.approved_by)  # approved again later in the batch: nothing
        command = parse_event_obj(request.command)
        release = releases.get(type(command))
        if release is None:
            raise PermanentError("unexpected-event", f"payments cannot release {type(command).__name__}")
        await release(config, uow, command, approval)
        log.info("approved and applied", subject_kind=a.subject_kind, subject_id=a.subject_id,
                 requested_by=request.requested_by, approved_by=a.approved_by)  # fmt: skip


async def release_allocation(
    config: Config, uow: UnitOfWorkLike, command: FundsAllocated, approval: ApprovalGranted
) -> None:
    """An approved allocation: the day's scheduled run may spend it."""
    p = command.payload
    uow.allocations.add(
        Allocation(p.allocation_id, p.business_date, p.amount, p.allocated_by, approval.payload.approved_by)
    )
