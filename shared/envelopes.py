"""Building follow-up events: the envelope fields every producer fills the same way."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from shared.clock import Clock
from shared.events import Envelope

E = TypeVar("E", bound=Envelope)


def follow_up(
    cls: type[E],
    cause: Envelope,
    payload: Any,
    *,
    producer: str,
    clock: Clock,
    claim_id: str | None = None,
    correlation_id: uuid.UUID | None = None,
) -> E:
    """An event caused by `cause`: same claim and correlation unless given, causation = cause's id."""
    fields: dict[str, Any] = {
        "occurred_at": clock.now(),
        "correlation_id": correlation_id or cause.correlation_id,
        "causation_id": cause.event_id,
        "producer": producer,
        "received_at": cause.received_at,  # a follow-up is judged on when BPJS got the input that caused it
        "payload": payload,
    }
    if "claim_id" in cls.model_fields and cls.model_fields["claim_id"].annotation is not type(None):
        fields["claim_id"] = claim_id or cause.claim_id
    return cls(**fields)


def originate(
    cls: type[E], payload: Any, *, producer: str, clock: Clock, claim_id: str | None = None,
    correlation_id: uuid.UUID | None = None,
) -> E:  # fmt: skip
    """An event with no causing event (a sweeper, a scheduler, an operator's command)."""
    fields: dict[str, Any] = {
        "occurred_at": clock.now(),
        "correlation_id": correlation_id or uuid.uuid4(),
        "producer": producer,
        "payload": payload,
    }
    if claim_id is not None:
        fields["claim_id"] = claim_id
    return cls(**fields)
