"""The hospital gateway: E-Klaim-compatible intake, VClaim-style signed HTTP, and the claim monitor."""

from __future__ import annotations

from pathlib import Path

from services.gateway.entrypoints.consumer import consumer
from services.gateway.entrypoints.housekeeping import forget_old_answers
from shared import topics
from shared.events import (
    ClaimDisputeResolved,
    ClaimGrouped,
    ClaimPaid,
    ClaimPended,
    ClaimRejected,
    ClaimVerified,
)
from shared.runtime import Consumes, ServiceRuntime, ServiceSpec


def http_app(runtime: ServiceRuntime) -> object:
    """The FastAPI app (imported here so a consumer-only import of the spec stays light)."""
    from services.gateway.entrypoints.http import create_app

    return create_app(runtime)


SPEC = ServiceSpec(
    name="gateway",
    schema="gateway",
    migrations=Path(__file__).parent / "migrations",
    consumes=[
        Consumes(
            "gateway",
            {
                topics.CLAIMS_GROUPED: (ClaimGrouped,),
                topics.CLAIMS_REJECTED: (ClaimRejected,),
                topics.CLAIMS_PENDED: (ClaimPended,),
                topics.CLAIMS_VERIFIED: (ClaimVerified,),
                topics.CLAIMS_DISPUTE_RESOLVED: (ClaimDisputeResolved,),
                topics.CLAIMS_PAID: (ClaimPaid,),
            },
            consumer,
        )
    ],
    background=[forget_old_answers],
    default_http_port=8085,
    http_app=http_app,
)
