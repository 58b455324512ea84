"""What the payments use cases are configured with, read once when the consumer starts."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.payments.application.gate import ReconciliationGate
from services.payments.settings import PaymentsSettings
from shared.clock import Clock
from shared.settings import PolicySettings

PRODUCER = "payments"  # every event the service writes


@dataclass(frozen=True)
class Config:
    policy: PolicySettings  # payment days and their unit, the penalty method
    settings: PaymentsSettings  # the dispute due-date rule
    clock: Clock  # the payment date of a run, the booking date of a correction
    # Closed until the instance has reconciled with claims.paid (the service's); open where nothing can be missing.
    gate: ReconciliationGate = field(default_factory=ReconciliationGate.opened)
