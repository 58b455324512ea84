"""The notifier's business counters (served on /metrics with the kernel's)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from shared.metrics import registry

DELIVERIES_PLANNED = Counter(
    "notifier_deliveries_planned", "Deliveries planned (one per event and subscription)", ["event_type"],
    registry=registry,
)  # fmt: skip
ATTEMPTS = Counter(
    "notifier_delivery_attempts", "Delivery attempts by channel and outcome", ["channel", "outcome"], registry=registry
)
DEAD = Counter("notifier_deliveries_dead", "Deliveries given up on (dead-lettered)", ["channel"], registry=registry)
LATENCY = Histogram(
    "notifier_delivery_latency_seconds", "Time of one delivery attempt", ["channel"], registry=registry,
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)  # fmt: skip
DLQ_ARRIVALS = Counter("notifier_dlq_arrivals", "Dead-letter records seen", ["topic"], registry=registry)
