"""The gateway's own counters (the kernel's are in shared/metrics.py)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter("gateway_requests", "HTTP requests answered", ["endpoint", "status"])
LATENCY = Histogram(
    "gateway_request_seconds", "Time to answer a request", ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)  # fmt: skip
AUTH_FAILURES = Counter("gateway_auth_failures", "Requests refused 401 (unsigned, stale, wrong signature)")
RATE_LIMITED = Counter("gateway_rate_limited", "Requests refused 429", ["cons_id"])
SUBMISSIONS = Counter("gateway_submissions", "Claim revisions committed for publishing", ["source"])
DISPUTES = Counter("gateway_disputes", "Hospital disputes committed for publishing")
RETRIES = Counter("gateway_idempotent_retries", "Retries answered with the first answer", ["kind"])
VIEWS_UPDATED = Counter("gateway_views_updated", "Read-model events applied", ["event_type"])
