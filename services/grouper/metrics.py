"""The grouper's own counters (the kernel's are in shared/metrics.py)."""

from __future__ import annotations

from prometheus_client import Counter

ANSWERS = Counter("grouper_answers", "Claims answered", ["outcome"])
RESENT = Counter("grouper_resent_revisions", "Revisions received again with the same content (answered once)")
