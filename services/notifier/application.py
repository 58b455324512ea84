"""The notifier's use cases: plan the deliveries of what happened, and make and change subscriptions.

Planning (the consumer's use case, and the DLQ watcher's and dispatcher's alerts): each source is routed
to the subscriptions that hear about it, rendered in each one's language and zone, and stored as one
delivery row per (source, subscription); nothing is sent here, the dispatcher sends after commit. A
batch costs one read of subscriptions (kept by the unit of work for the rest of the batch) and one
multi-row insert of deliveries, whatever its size.

Subscriptions (the CLI's use cases): validated, destination checked, secrets sealed. A webhook URL is
checked when the subscription is made (its host must resolve only to public addresses, or to receivers
NOTIFIER_WEBHOOK_ALLOW names), and again by the dispatcher on every connection (adapters/egress.py),
because a name's addresses can change.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from services.notifier.adapters import repository
from services.notifier.adapters.egress import DestinationRefused, Egress
from services.notifier.adapters.repository import Deliveries, Subscriptions
from services.notifier.adapters.sealing import SecretBox
from services.notifier.adapters.unit_of_work import NotifierUnitOfWork
from services.notifier.domain.messages import render, webhook_body
from services.notifier.domain.model import PlannedDelivery, SubscriptionRequest
from services.notifier.domain.notices import Source, notice_of
from services.notifier.domain.routing import MIN_SECRET_LENGTH, route, validate
from shared.application import Application
from shared.clock import Clock
from shared.db import Conn
from shared.events import (
    ClaimDeadlineReminder,
    ClaimDisputeResolved,
    ClaimPaid,
    ClaimPended,
    ClaimRejected,
    ClaimVerified,
    Envelope,
    PaymentDeadlineApproaching,
    PaymentOverdue,
)
from shared.outbox import Tx

# --------------------------------------------------------------------------- planning


class UnitOfWorkLike(Protocol):
    """What planning needs of a unit of work (NotifierUnitOfWork, or a fake in unit tests)."""

    @property
    def subscriptions(self) -> Subscriptions: ...
    @property
    def deliveries(self) -> Deliveries: ...


async def plan_all(uow: UnitOfWorkLike, sources: Sequence[tuple[Source, datetime]]) -> None:
    """Plan one delivery per matching subscription of each (source, when it arrived), in their order."""
    notices = [(source, notice_of(source, now), now) for source, now in sources]
    # One read for the whole batch: routing picks each source's own subscriptions out of them.
    candidates = await uow.subscriptions.candidates(n.kode_rs for _, n, _ in notices)
    for source, notice, now in notices:
        for sub in route(candidates, notice.event_type, notice.kode_rs):
            message = render(source, sub.language, sub.timezone)
            body = webhook_body(notice, message, sub.id, sub.language) if sub.channel == "webhook" else None
            uow.deliveries.add(
                PlannedDelivery(
                    event_id=notice.event_id,
                    subscription_id=sub.id,
                    event_type=notice.event_type,
                    claim_id=notice.claim_id,
                    kode_rs=notice.kode_rs,
                    channel=sub.channel,
                    subject=message.subject,
                    text=message.text,
                    body=body,
                ),
                now,
            )


@dataclass(frozen=True)
class Planner:
    """The consumer's use case: contract events become planned deliveries, stamped on the service clock."""

    clock: Clock

    async def tell(self, uow: UnitOfWorkLike, events: Sequence[Envelope]) -> None:
        """Plan the deliveries of a batch of events (one read of subscriptions, rows written at flush)."""
        await plan_all(uow, [(event, self.clock.now()) for event in events])


def application(planner: Planner) -> Application[NotifierUnitOfWork]:
    """The notifier consumer's use cases, one per event type it consumes (every one is told the same way)."""
    tell = planner.tell
    return Application(
        "notifier",
        {
            ClaimPended: tell,
            ClaimRejected: tell,
            ClaimVerified: tell,
            ClaimDisputeResolved: tell,
            ClaimPaid: tell,
            ClaimDeadlineReminder: tell,
            PaymentDeadlineApproaching: tell,
            PaymentOverdue: tell,
        },
        NotifierUnitOfWork,
    )


async def plan(conn: Conn, schema: str, source: Source, now: datetime) -> int:
    """Plan one source's deliveries in the caller's transaction; returns how many are new.

    For what the kernel does not consume: the DLQ watcher's arrivals and the dispatcher's failed deliveries.
    """
    uow = NotifierUnitOfWork(Tx(conn, schema))
    await plan_all(uow, [(source, now)])
    await uow.flush()
    return uow.planned


# --------------------------------------------------------------------------- subscriptions

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([dhm])$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


@dataclass(frozen=True)
class Outcome:
    """A subscription's id, or every reason it was refused (nothing stored)."""

    subscription_id: int | None = None
    problems: tuple[str, ...] = ()


async def destination_problem(request: SubscriptionRequest, egress: Egress) -> str | None:
    """Why a webhook's URL may not be used (None: allowed, or not a webhook)."""
    if request.channel != "webhook":
        return None
    try:
        await egress.check_url(request.target)
    except DestinationRefused as exc:
        return f"webhook URL {request.target!r}: {exc}"
    return None


async def subscribe(
    conn: Conn, request: SubscriptionRequest, *, egress: Egress, box: SecretBox | None, now: datetime
) -> Outcome:
    """Validate, check the destination, seal the secret and store, in the caller's transaction."""
    problems = validate(request)
    if not problems:  # resolve only a URL that is well-formed
        refused = await destination_problem(request, egress)
        if refused:
            problems.append(refused)
    if problems:
        return Outcome(problems=tuple(problems))
    sealed = None
    if request.channel == "webhook" and request.secret:
        if box is None:
            raise ValueError("a webhook secret is stored sealed: pass the SecretBox")
        sealed = box.seal(request.secret)
    return Outcome(subscription_id=await repository.add_subscription(conn, request, now, sealed))


def secret_problem(secret: str) -> str | None:
    if len(secret) < MIN_SECRET_LENGTH:
        return f"secret: a webhook signing secret has at least {MIN_SECRET_LENGTH} characters"
    return None


def parse_overlap(text: str) -> timedelta:
    """`7d`, `36h` or `90m`: how long the old and the new secret both sign."""
    found = _DURATION.match(text.strip())
    if not found or float(found.group(1)) <= 0:
        raise ValueError(f"overlap: {text!r} is not a duration like 7d, 36h or 90m")
    return timedelta(**{_UNITS[found.group(2)]: float(found.group(1))})


async def rotate_secret(
    conn: Conn, subscription_id: int, secret: str, overlap: timedelta, *, box: SecretBox, now: datetime
) -> repository.SecretChange:
    """A new secret signs from now; the current one until now + overlap (then only the new one)."""
    problem = secret_problem(secret)
    if problem:
        return repository.SecretChange(refused=problem)
    return await repository.add_secret(conn, subscription_id, box.seal(secret), now + overlap, now)
