"""ClaimStatus <-> JSON for the `claims.status` column (dates as ISO strings)."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import date
from typing import Any

from services.verifier.domain import ClaimState, ClaimStatus

_DATE_FIELDS = frozenset({"first_submitted_on", "submitted_on", "decided_on", "pended_on", "resubmit_by", "dispute_by"})


def dump_status(status: ClaimStatus) -> str:
    """The status as a JSON document."""
    out: dict[str, Any] = {}
    for f in fields(status):
        value = getattr(status, f.name)
        if f.name in _DATE_FIELDS:
            value = value.isoformat() if value is not None else None
        elif f.name == "state":
            value = str(value)
        elif f.name == "reminders_sent":
            value = sorted([kind, d.isoformat()] for kind, d in value)
        out[f.name] = value
    return json.dumps(out)


def load_status(text: str) -> ClaimStatus:
    """A status back from its JSON document."""
    raw: dict[str, Any] = json.loads(text)
    for name in _DATE_FIELDS:
        if raw.get(name) is not None:
            raw[name] = date.fromisoformat(raw[name])
    raw["state"] = ClaimState(raw["state"])
    raw["reminders_sent"] = frozenset((kind, date.fromisoformat(d)) for kind, d in raw["reminders_sent"])
    return ClaimStatus(**raw)
