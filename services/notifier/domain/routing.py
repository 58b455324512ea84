"""Who hears about what: the event types per audience, subscription rules and matching."""

from __future__ import annotations

import re
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.notifier.domain.model import LANGUAGES, Subscription, SubscriptionRequest

DEAD_LETTER_ARRIVED = "DeadLetterArrived"
DELIVERY_FAILED = "DeliveryFailed"

# What a hospital hears about its own claims by default.
HOSPITAL_EVENT_TYPES: tuple[str, ...] = (
    "ClaimPended",
    "ClaimRejected",
    "ClaimVerified",
    "ClaimDisputeResolved",
    "ClaimPaid",
    "ClaimDeadlineReminder",
    "PaymentDeadlineApproaching",
)
# What operators hear about by default.
OPERATOR_EVENT_TYPES: tuple[str, ...] = ("PaymentOverdue", DEAD_LETTER_ARRIVED, DELIVERY_FAILED)
ALL_EVENT_TYPES: tuple[str, ...] = HOSPITAL_EVENT_TYPES + OPERATOR_EVENT_TYPES
# A hospital may also opt in to its own overdue payments; never to other hospitals' dead letters or failures.
HOSPITAL_ALLOWED: tuple[str, ...] = (*HOSPITAL_EVENT_TYPES, "PaymentOverdue")

MIN_SECRET_LENGTH = 16
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_KODE_RS = re.compile(r"^[A-Za-z0-9]{1,40}$")


def default_event_types(audience: str) -> tuple[str, ...]:
    """The event types a subscription gets when none are named."""
    return HOSPITAL_EVENT_TYPES if audience == "hospital" else OPERATOR_EVENT_TYPES


def validate(request: SubscriptionRequest) -> list[str]:
    """Every problem with a subscription request (empty when it can be stored)."""
    problems: list[str] = []
    if request.audience == "hospital":
        if not request.kode_rs or not _KODE_RS.match(request.kode_rs):
            problems.append("a hospital subscription needs a kode_rs (letters and digits, e.g. 0301R001)")
    elif request.kode_rs is not None:
        problems.append("an operators' subscription has no kode_rs")
    if request.channel == "webhook":
        url = urlsplit(request.target)
        if url.scheme not in ("http", "https") or not url.netloc:
            problems.append(f"webhook URL must be http(s)://host/...: {request.target!r}")
        if not request.secret or len(request.secret) < MIN_SECRET_LENGTH:
            problems.append(f"a webhook needs a signing secret of at least {MIN_SECRET_LENGTH} characters")
    else:
        if not _EMAIL.match(request.target):
            problems.append(f"not an e-mail address: {request.target!r}")
        if request.secret:
            problems.append("an e-mail subscription has no secret")
    if request.language not in LANGUAGES:
        problems.append(f"language must be one of {', '.join(LANGUAGES)}")
    try:
        ZoneInfo(request.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"unknown time zone {request.timezone!r} (e.g. Asia/Jakarta, Asia/Makassar, Asia/Jayapura)")
    allowed = HOSPITAL_ALLOWED if request.audience == "hospital" else ALL_EVENT_TYPES
    unknown = [t for t in request.event_types if t not in allowed]
    if unknown:
        problems.append(f"event types not available to {request.audience}: {', '.join(unknown)}")
    return problems


def with_defaults(request: SubscriptionRequest) -> SubscriptionRequest:
    """The request with the audience's default event types when it named none."""
    if request.event_types:
        return request
    return SubscriptionRequest(
        audience=request.audience,
        kode_rs=request.kode_rs,
        channel=request.channel,
        target=request.target,
        language=request.language,
        timezone=request.timezone,
        event_types=default_event_types(request.audience),
        secret=request.secret,
    )


def matches(subscription: Subscription, event_type: str, kode_rs: str | None) -> bool:
    """Does `subscription` hear about an `event_type` concerning hospital `kode_rs`?"""
    if not subscription.active or event_type not in subscription.event_types:
        return False
    if subscription.audience == "operators":
        return True
    return kode_rs is not None and kode_rs == subscription.kode_rs


def route(subscriptions: list[Subscription], event_type: str, kode_rs: str | None) -> list[Subscription]:
    """The subscriptions that hear about this event, each once."""
    seen: set[int] = set()
    chosen: list[Subscription] = []
    for sub in subscriptions:
        if sub.id not in seen and matches(sub, event_type, kode_rs):
            seen.add(sub.id)
            chosen.append(sub)
    return chosen


def redact_target(channel: str, target: str) -> str:
    """A receiver named for operators without leaking a URL's path or query (which may hold tokens)."""
    if channel != "webhook":
        return target
    url = urlsplit(target)
    return f"{url.scheme}://{url.hostname or ''}{f':{url.port}' if url.port else ''}"
