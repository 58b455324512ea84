"""What the notifier tells people about: contract events, and two alerts of its own.

Operators also hear about records that landed on a dead-letter topic (raw records, not
contract events) and about deliveries that failed for good. Each gets a stable id so a
redelivered record or a re-run never tells anyone twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias

from services.notifier.domain.routing import DEAD_LETTER_ARRIVED, DELIVERY_FAILED
from shared.escaping import escape_bytes, escape_text
from shared.events import Envelope

# Namespace of the notifier's own alert ids (uuid5): the same record or failure, the same id.
ALERT_NAMESPACE = uuid.UUID("6f1c3c1e-4a8b-5d8e-9a57-0e6c7b1f4a21")
PREVIEW_BYTES = 500
HEADER_BYTES = 4096  # the kernel's dlq.reason is at most 4,000 characters
KEY_BYTES = 512
MAX_HEADERS = 64


@dataclass(frozen=True)
class DeadLetterArrival:
    """A record that arrived on `<topic>.dlq`: the original bytes and the headers naming the error."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: str | None
    headers: Mapping[str, str]
    value_preview: str
    received_at: datetime

    @property
    def alert_id(self) -> uuid.UUID:
        """Stable per record (the broker timestamp tells a new broker's reused offsets apart)."""
        return uuid.uuid5(ALERT_NAMESPACE, f"dlq/{self.topic}/{self.partition}/{self.offset}/{self.timestamp_ms}")

    def header(self, name: str) -> str:
        """A header's value, or `-`."""
        return self.headers.get(name, "-")

    @classmethod
    def from_record(
        cls, topic: str, partition: int, offset: int, timestamp_ms: int, key: bytes | None, value: bytes | None,
        headers: Any, received_at: datetime,
    ) -> DeadLetterArrival:  # fmt: skip
        """From a raw Kafka record: whatever its bytes, every text is safe to store, send and show.

        Invalid UTF-8 becomes `\\xff`, NUL and other control characters `\\x00` (PostgreSQL text refuses
        NUL), and sizes are bounded: a header value to HEADER_BYTES, at most MAX_HEADERS headers.
        """
        items = list(headers or ())
        # The kernel's dlq.* headers come last and always count: a sender's many headers cannot push them out.
        kernel = [(k, v) for k, v in items if str(k).startswith("dlq.")]
        own = [(k, v) for k, v in items if not str(k).startswith("dlq.")]
        decoded = {escape_text(str(k), 200): escape_bytes(v, HEADER_BYTES, keep="\t\n") for k, v in own[:MAX_HEADERS]}
        if len(own) > MAX_HEADERS:
            decoded["…"] = f"{len(own) - MAX_HEADERS} more headers not shown"
        decoded.update(
            (escape_text(str(k), 200), escape_bytes(v, HEADER_BYTES, keep="\t\n")) for k, v in kernel[-MAX_HEADERS:]
        )
        return cls(
            topic=escape_text(topic, 300),
            partition=partition,
            offset=offset,
            timestamp_ms=timestamp_ms,
            key=escape_bytes(key, KEY_BYTES) if key is not None else None,
            headers=decoded,
            value_preview=escape_bytes(value, PREVIEW_BYTES, keep="\t\n"),
            received_at=received_at,
        )


@dataclass(frozen=True)
class FailedDelivery:
    """A delivery given up on: the receiver refused it or stayed down for the whole retry budget."""

    delivery_id: int
    event_id: uuid.UUID
    event_type: str
    claim_id: str | None
    kode_rs: str | None
    subscription_id: int
    channel: str
    receiver: str  # redacted target: scheme://host for webhooks
    attempts: int = 0
    last_error: str = ""
    failed_at: datetime | None = None

    @property
    def alert_id(self) -> uuid.UUID:
        """Stable per failed delivery."""
        return uuid.uuid5(ALERT_NAMESPACE, f"delivery-failed/{self.delivery_id}/{self.event_id}")


Source: TypeAlias = Envelope | DeadLetterArrival | FailedDelivery


@dataclass(frozen=True)
class Notice:
    """What routing and the delivery rows need to know of a source."""

    event_id: uuid.UUID
    event_type: str
    claim_id: str | None
    kode_rs: str | None
    occurred_at: datetime
    data: dict[str, Any]


def notice_of(source: Source, now: datetime) -> Notice:
    """The routing facts and the machine-readable data of a source."""
    if isinstance(source, DeadLetterArrival):
        data = {
            "topic": source.topic,
            "partition": source.partition,
            "offset": source.offset,
            "key": source.key,
            "headers": dict(source.headers),
            "value_preview": source.value_preview,
        }
        claim_id = source.key[:200] if source.key else None  # claim events are keyed by claim id
        return Notice(source.alert_id, DEAD_LETTER_ARRIVED, claim_id, None, source.received_at, data)
    if isinstance(source, FailedDelivery):
        data = {
            "delivery_id": source.delivery_id,
            "event_id": str(source.event_id),
            "event_type": source.event_type,
            "claim_id": source.claim_id,
            "kode_rs": source.kode_rs,
            "subscription_id": source.subscription_id,
            "channel": source.channel,
            "receiver": source.receiver,
            "attempts": source.attempts,
            "last_error": source.last_error,
        }
        return Notice(source.alert_id, DELIVERY_FAILED, source.claim_id, source.kode_rs, source.failed_at or now, data)
    payload = getattr(source, "payload", None)
    kode_rs = getattr(payload, "kode_rs", None)
    return Notice(
        source.event_id,
        str(getattr(source, "event_type", type(source).__name__)),
        source.claim_id,
        kode_rs if isinstance(kode_rs, str) else None,
        source.occurred_at,
        source.model_dump(mode="json"),
    )
