"""What the payments use cases need of a unit of work: PaymentsUnitOfWork, or a fake in unit tests."""

from __future__ import annotations

from typing import Protocol

from services.payments.adapters.approvals import HeldCommands
from services.payments.adapters.capitation import CapitationRuns
from services.payments.adapters.ledger import Ledger
from services.payments.adapters.payables import Payables
from services.payments.adapters.runs import Allocations, PaymentRuns
from shared.events import Envelope


class UnitOfWorkLike(Protocol):
    @property
    def payables(self) -> Payables: ...
    @property
    def ledger(self) -> Ledger: ...
    @property
    def runs(self) -> PaymentRuns: ...
    @property
    def allocations(self) -> Allocations: ...
    @property
    def capitation(self) -> CapitationRuns: ...
    @property
    def held(self) -> HeldCommands: ...
    def emit(self, event: Envelope) -> None: ...
