"""Build valid events for tests from the worked examples."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from shared.events import Envelope, parse_event_obj

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "events"


def example(event_type: str) -> dict[str, Any]:
    """The worked example of `event_type` as a dict."""
    data: dict[str, Any] = json.loads((EXAMPLES / f"{event_type}.json").read_text())
    return data


def submitted(claim_id: str | None = None, **claim_changes: Any) -> Envelope:
    """A fresh ClaimSubmitted (new event id, its own claim id) with optional claim field changes."""
    doc = example("ClaimSubmitted")
    doc["event_id"] = str(uuid.uuid4())
    doc["claim_id"] = claim_id or f"C-{uuid.uuid4().hex[:12]}"
    doc["correlation_id"] = str(uuid.uuid4())
    doc["payload"]["claim"].update(claim_changes)
    return parse_event_obj(doc)
