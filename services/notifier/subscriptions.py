"""Making and changing subscriptions: validated, destination checked, secrets sealed (the CLI's use cases).

A webhook URL is checked here, when the subscription is made (its host must resolve only
to public addresses, or to receivers NOTIFIER_WEBHOOK_ALLOW names), and again by the
dispatcher on every connection (adapters/egress.py), because a name's addresses can change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.notifier.adapters import repository
from services.notifier.adapters.egress import DestinationRefused, Egress
from services.notifier.adapters.sealing import SecretBox
from services.notifier.domain.model import SubscriptionRequest
from services.notifier.domain.routing import MIN_SECRET_LENGTH, validate
from shared.db import Conn

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
