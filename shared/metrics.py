"""The kernel's Prometheus metrics (business counters live with their services)."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

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
# What alerts and dashboards need beyond the counters (deploy/monitoring); set by shared/runtime.py.
CONSUMER_LAG = Gauge(
    "consumer_lag",
    "Records on a partition this instance's consumer has not fetched yet (highwater - position)",
    ["group", "topic", "partition"],
)
CONSUMER_STALLED = Gauge(
    "consumer_stalled_seconds", "How long the batch a consumer holds has waited to be applied (0: none)", ["consumer"]
)
OUTBOX_RELAY_STALLED = Gauge(
    "outbox_relay_stalled_seconds",
    "Seconds since the leading relay last caught up or moved a row on (0: standing by)",
    ["schema"],
)
OUTBOX_RELAY_LEADER = Gauge(
    "outbox_relay_leader", "1 on the instance whose relay leads (its outbox gauges are the current ones)", ["schema"]
)
RECORD_AGE = Histogram(
    "consumer_record_age_seconds", "From the broker appending a record to its batch being applied", ["consumer"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)  # fmt: skip
