"""The payments service: payables, payment runs, penalties, enforcement, ledger."""

from __future__ import annotations

from pathlib import Path

from services.payments.entrypoints.consumer import consumer
from services.payments.entrypoints.monitor import monitor, scheduler
from services.payments.entrypoints.reconciler import reconciler
from shared import topics
from shared.events import (
    ApprovalGranted,
    CapitationRunRequested,
    ClaimVerified,
    FundsAllocated,
    PaymentCorrectionRequested,
    PaymentRunRequested,
)
from shared.runtime import Consumes, ServiceSpec

SPEC = ServiceSpec(
    name="payments",
    schema="payments",
    migrations=Path(__file__).parent / "migrations",
    consumes=[
        Consumes(
            "payments",
            {
                topics.CLAIMS_VERIFIED: (ClaimVerified,),
                topics.PAYMENTS_COMMANDS: (
                    PaymentRunRequested,
                    PaymentCorrectionRequested,
                    CapitationRunRequested,
                    FundsAllocated,
                    ApprovalGranted,
                ),
            },
            consumer,
        )
    ],
    background=[reconciler, monitor, scheduler],  # runs and notices wait for the reconciler
    default_http_port=8083,
)
