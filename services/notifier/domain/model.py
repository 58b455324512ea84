"""The notifier's vocabulary: subscriptions, deliveries and what one attempt returned."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Audience = Literal["hospital", "operators"]
Channel = Literal["webhook", "email"]
Language = Literal["id", "en"]
Outcome = Literal["delivered", "retry", "failed"]

LANGUAGES: tuple[Language, ...] = ("id", "en")
DEFAULT_TIMEZONE = "Asia/Jakarta"


@dataclass(frozen=True)
class SubscriptionRequest:
    """What an operator asks for with `claimsctl notify subscribe` (validated by routing.validate)."""

    audience: Audience
    kode_rs: str | None
    channel: Channel
    target: str
    language: Language = "id"
    timezone: str = DEFAULT_TIMEZONE
    event_types: tuple[str, ...] = ()
    secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Subscription:
    """A stored subscription: who hears about which event types, how, in which language and zone."""

    id: int
    audience: Audience
    kode_rs: str | None
    channel: Channel
    target: str
    language: Language
    timezone: str
    event_types: tuple[str, ...]
    active: bool = True
    signing_secrets: int = 0  # how many secrets sign its deliveries now (2 during a rotation's overlap)
    overlap_until: datetime | None = None  # when the older secret of a rotation stops signing


@dataclass(frozen=True)
class PlannedDelivery:
    """One message to one subscription, rendered when the event arrived."""

    event_id: uuid.UUID
    subscription_id: int
    event_type: str
    claim_id: str | None
    kode_rs: str | None
    channel: Channel
    subject: str
    text: str
    body: bytes | None


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery this instance holds a lease on, with what it needs to send it."""

    id: int
    event_id: uuid.UUID
    subscription_id: int
    event_type: str
    claim_id: str | None
    kode_rs: str | None
    channel: Channel
    target: str
    subject: str
    text: str
    body: bytes | None
    attempt: int
    lease_token: uuid.UUID
    sealed_secrets: tuple[bytes, ...] = field(default=(), repr=False)  # newest first; opened only to sign


@dataclass(frozen=True)
class AttemptResult:
    """What one attempt returned: delivered, worth retrying, or failed for good."""

    outcome: Outcome
    status_code: int | None = None
    error: str | None = None
    retry_after_s: float | None = None
