"""The kernel's Prometheus metrics (business counters live with their services)."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge

registry: CollectorRegistry = REGISTRY

OUTBOX_BACKLOG = Gauge("outbox_backlog", "Outbox rows not yet published", ["schema"])
OUTBOX_PUBLISHED = Counter("outbox_published", "Outbox rows published and acknowledged", ["schema"])
INBOX_DUPLICATES = Counter("inbox_duplicates", "Events skipped because already applied", ["consumer"])
EVENTS_APPLIED = Counter("events_applied", "Events applied", ["consumer", "event_type"])
DLQ_MESSAGES = Counter("dlq_messages", "Messages sent to a dead-letter topic", ["consumer", "topic", "error"])
TRANSIENT_RETRIES = Counter("transient_retries", "Batches retried after a transient error", ["consumer"])
DLQ_REDRIVEN_APPLIED = Counter(
    "dlq_redriven_applied", "Redriven dead letters applied (records carrying redrive.id)", ["consumer"]
)
BATCHES_ISOLATED = Counter(
    "batches_isolated", "Batches re-run event by event after a non-transient failure", ["consumer"]
)
OUTBOX_RELAY_ERRORS = Counter(
    "outbox_relay_errors",
    "Relay failures: permanent (one per row quarantined), transient (one per round retried)",
    ["schema", "kind"],
)
OUTBOX_QUARANTINED = Gauge("outbox_quarantined", "Outbox rows the broker refused, set aside until retried", ["schema"])
OUTBOX_OLDEST_AGE = Gauge(
    "outbox_oldest_age_seconds", "Age of the oldest outbox row waiting to be published (0: none)", ["schema"]
)
