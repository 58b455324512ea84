"""The grouper service: ICD validation and INA-CBG grouping with versioned tariff tables."""

from __future__ import annotations

from pathlib import Path

from services.grouper.entrypoints.consumer import consumer
from shared import topics
from shared.events import ClaimSubmitted
from shared.runtime import Consumes, ServiceSpec

SPEC = ServiceSpec(
    name="grouper",
    schema="grouper",
    migrations=Path(__file__).parent / "migrations",
    consumes=[Consumes("grouper", {topics.CLAIMS_SUBMITTED: (ClaimSubmitted,)}, consumer)],
    default_http_port=8081,
)
