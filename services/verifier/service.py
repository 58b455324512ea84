"""The verifier service: eligibility, completeness rules, decisions, pending and disputes."""

from __future__ import annotations

from pathlib import Path

from services.verifier.entrypoints.consumer import consumer
from services.verifier.entrypoints.sweeper import sweeper
from shared import topics
from shared.events import (
    ClaimDisputed,
    ClaimGrouped,
    DisputeResolutionRequested,
    ParticipantChanged,
    ReviewDecisionRequested,
)
from shared.runtime import Consumes, ServiceSpec

SPEC = ServiceSpec(
    name="verifier",
    schema="verifier",
    migrations=Path(__file__).parent / "migrations",
    consumes=[
        Consumes(
            "verifier",
            {
                topics.CLAIMS_GROUPED: (ClaimGrouped,),
                topics.CLAIMS_DISPUTED: (ClaimDisputed,),
                topics.VERIFIER_COMMANDS: (ReviewDecisionRequested, DisputeResolutionRequested),
                topics.PARTICIPANTS_CHANGED: (ParticipantChanged,),
            },
            consumer,
        )
    ],
    background=[sweeper],
    default_http_port=8082,
)
