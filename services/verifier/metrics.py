"""Business metrics of the verifier (exposed on /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

STATES = Counter("verifier_transitions", "Claims moved into a state", ["state"])
REFUSED = Counter("verifier_refused", "Illegal moves answered with the rule that refuses them", ["code"])
REVIEW_QUEUE = Gauge("verifier_review_queue", "Claims held for a human reviewer")
SWEPT = Counter("verifier_swept", "Claims moved by the daily sweep")
SWEEP_DEFERRED = Counter(
    "verifier_sweep_deferred",
    "Catch-up checks that put the daily sweep off: input received before the cut-off not yet applied",
    ["why"],
)
SWEEP_BACKLOG = Gauge(
    "verifier_sweep_backlog",
    "Records on the broker before the sweep's cut-off that a consumer group has not applied",
    ["group"],
)
DEEMED_COMPLETE_TOMORROW = Gauge(
    "verifier_deemed_complete_tomorrow",
    "Undecided claims tonight's sweep deems complete (no verification: the law's day 10) unless decided today",
    ["state"],
)
PENDS_EXPIRING = Gauge(
    "verifier_pends_expiring",
    "Pended claims whose last day to resubmit is within the reminder window (2 working days)",
)
