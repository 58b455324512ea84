"""The console's own counters (the kernel's are in shared/metrics.py)."""

from __future__ import annotations

from prometheus_client import Counter

SIGN_INS = Counter("console_sign_ins", "Sign-in attempts by outcome", ["outcome"])
COMMANDS = Counter("console_commands", "Signed commands written to the outbox", ["command_type"])
REFUSED = Counter("console_refused_forms", "Forms refused before signing, by rule", ["rule"])
STALE = Counter("console_stale_pages", "Actions refused because the page was stale", ["kind"])
FORBIDDEN = Counter("console_forbidden", "Pages or actions refused 403 for lack of a role")
