"""Events for the payments use-case tests: verified claims and finance's money commands (unsigned: the kernel
checks signatures before any use case runs)."""

from __future__ import annotations

import uuid
import zlib
from datetime import UTC, date, datetime

from services.payments.application.config import Config
from services.payments.settings import PaymentsSettings
from shared.clock import FixedClock
from shared.events import (
    ApprovalGranted,
    CapitationLine,
    CapitationRunRequested,
    CapitationRunRequestedPayload,
    ClaimVerified,
    ClaimVerifiedPayload,
    Envelope,
    FundsAllocated,
    FundsAllocatedPayload,
    PaymentCorrectionRequested,
    PaymentCorrectionRequestedPayload,
    PaymentRunRequested,
    PaymentRunRequestedPayload,
)
from shared.operators import approval_of
from shared.settings import PolicySettings

RUN_DAY = date(2026, 3, 2)  # a Monday
NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # 10:00 in Jakarta on RUN_DAY
RS = "0301R001"
MAKER, APPROVER = "finance.maker", "finance.approver"


def config(*, dispute_due_from_original: bool = True) -> Config:
    return Config(
        PolicySettings(), PaymentsSettings(dispute_due_from_original=dispute_due_from_original), FixedClock(NOW)
    )


def verified(claim: str, verified_on: date, amount: int, *, seq: int = 0, kode_rs: str = RS) -> ClaimVerified:
    return ClaimVerified(
        occurred_at=NOW, claim_id=claim, correlation_id=uuid.uuid4(), producer="verifier",
        payload=ClaimVerifiedPayload(
            revision=0, nomor_sep=f"{kode_rs}0326V{zlib.crc32(claim.encode()) % 10**6:06d}", kode_rs=kode_rs,
            verification_seq=seq, verified_on=verified_on, claimed_amount=amount, approved_amount=amount,
        ),
    )  # fmt: skip


def again(event: ClaimVerified, **payload: object) -> ClaimVerified:
    """The same verification delivered again (a new event id), `payload` changed if given."""
    return event.model_copy(update={"event_id": uuid.uuid4(), "payload": event.payload.model_copy(update=payload)})


def run_request(run_id: str, funds: int, by: str = MAKER) -> PaymentRunRequested:
    return PaymentRunRequested(
        occurred_at=NOW, correlation_id=uuid.uuid4(), producer=f"operator:{by}",
        payload=PaymentRunRequestedPayload(run_id=run_id, funds=funds, requested_by=by),
    )  # fmt: skip


def correction(claim: str, correction_id: str, amount: int) -> PaymentCorrectionRequested:
    return PaymentCorrectionRequested(
        occurred_at=NOW, claim_id=claim, correlation_id=uuid.uuid4(), producer=f"operator:{MAKER}",
        payload=PaymentCorrectionRequestedPayload(
            correction_id=correction_id, verification_seq=0, recover_amount=amount, reason="LOS not supported",
            requested_by=MAKER,
        ),
    )  # fmt: skip


def allocation(allocation_id: str, amount: int) -> FundsAllocated:
    return FundsAllocated(
        occurred_at=NOW, correlation_id=uuid.uuid4(), producer=f"operator:{MAKER}",
        payload=FundsAllocatedPayload(
            allocation_id=allocation_id, business_date=RUN_DAY, amount=amount, allocated_by=MAKER
        ),
    )  # fmt: skip


def capitation(run_id: str, *lines: CapitationLine) -> CapitationRunRequested:
    return CapitationRunRequested(
        occurred_at=NOW, correlation_id=uuid.uuid4(), producer=f"operator:{MAKER}",
        payload=CapitationRunRequestedPayload(run_id=run_id, month="2026-03", lines=list(lines), requested_by=MAKER),
    )  # fmt: skip


def approval(command: Envelope, by: str = APPROVER) -> ApprovalGranted:
    return approval_of(command, by, NOW)
