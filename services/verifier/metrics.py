"""Business metrics of the verifier (exposed on /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

STATES = Counter("verifier_transitions", "Claims moved into a state", ["state"])
REFUSED = Counter("verifier_refused", "Illegal moves answered with the rule that refuses them", ["code"])
REVIEW_QUEUE = Gauge("verifier_review_queue", "Claims held for a human reviewer")
SWEPT = Counter("verifier_swept", "Claims moved by the daily sweep")
