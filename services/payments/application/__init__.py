"""The payments service's use cases: one batch handler per consumed event type (`application()` builds the table).

Verified claims become payables (`payables`); money commands are held until a second finance operator
approves them (`four_eyes`), and an approval releases its command through a second table, one function
per command type: a payment run (`runs`), a VEDIKA correction (`corrections`), a capitation run
(`capitation`), a day's fund allocation (`four_eyes`).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from services.payments.adapters.unit_of_work import PaymentsUnitOfWork
from services.payments.application.capitation import hold_capitation, release_capitation
from services.payments.application.config import Config
from services.payments.application.corrections import release_correction
from services.payments.application.four_eyes import Release, approve, hold, release_allocation
from services.payments.application.payables import verified
from services.payments.application.runs import release_run
from shared.application import Application, BatchHandler
from shared.events import (
    ApprovalGranted,
    CapitationRunRequested,
    ClaimVerified,
    Envelope,
    FundsAllocated,
    PaymentCorrectionRequested,
    PaymentRunRequested,
)

RELEASES: Mapping[type[Envelope], Release] = {
    PaymentRunRequested: release_run,
    PaymentCorrectionRequested: release_correction,
    CapitationRunRequested: release_capitation,
    FundsAllocated: release_allocation,
}


def application(config: Config) -> Application[PaymentsUnitOfWork]:
    """The payments consumer's use cases, one per event type it consumes."""
    handlers: dict[type[Envelope], BatchHandler[PaymentsUnitOfWork]] = {
        ClaimVerified: partial(verified, config),
        PaymentRunRequested: partial(hold, config),
        PaymentCorrectionRequested: partial(hold, config),
        CapitationRunRequested: partial(hold_capitation, config),
        FundsAllocated: partial(hold, config),
        ApprovalGranted: partial(approve, config, RELEASES),
    }
    return Application("payments", handlers, PaymentsUnitOfWork)
