"""A VEDIKA correction of a paid claim: a new ledger entry (the hospital owes it back), never an edit."""

from __future__ import annotations

from services.payments.adapters.ledger import LedgerEntry
from services.payments.adapters.repository import PayableRow
from services.payments.application.config import Config
from services.payments.application.ports import UnitOfWorkLike
from services.payments.domain.ledger import correction_postings
from shared.consumer import PermanentError
from shared.events import ApprovalGranted, PaymentCorrectionRequested, PaymentCorrectionRequestedPayload


async def release_correction(
    config: Config, uow: UnitOfWorkLike, command: PaymentCorrectionRequested, approval: ApprovalGranted
) -> None:
    """An approved correction: booked once under its id, within what was paid."""
    c = command.payload
    entry_id = f"LE-CORR-{c.correction_id}"
    if await uow.ledger.exists(entry_id):
        return  # this correction was booked before
    payable = await correctable(uow, command)
    (posting,) = correction_postings(payable.kode_rs, c.recover_amount)
    uow.ledger.book(
        LedgerEntry(
            entry_id, posting, config.clock.today(), claim_id=payable.claim_id, kode_rs=payable.kode_rs,
            payable_id=payable.id, memo=correction_memo(c, approval.payload.approved_by),
        )
    )  # fmt: skip


async def correctable(uow: UnitOfWorkLike, command: PaymentCorrectionRequested) -> PayableRow:
    """The paid payable a correction recovers from; refused when there is none or it recovers too much.

    All corrections of one payment together recover at most what was paid for it (the approved
    amount; the penalty was BPJS's own lateness): two 60 % findings never recover 120 %. The second
    is refused whole, by name, rather than silently capped: a VEDIKA reviewer must reconcile the
    findings and request what is really owed. The payable row is locked so two concurrent
    corrections are judged one after the other.
    """
    c = command.payload
    assert command.claim_id is not None
    payable = await uow.payables.paid(command.claim_id, c.verification_seq, lock=True)
    if payable is None:
        raise PermanentError(
            "correction-not-paid", f"claim_id {command.claim_id} seq {c.verification_seq}: no paid payable to correct"
        )
    already = await uow.ledger.corrected_so_far(payable.id)
    if already + c.recover_amount > payable.amount:
        raise PermanentError(
            "correction-exceeds-paid",
            f"recover_amount {c.recover_amount} plus {already} already recovered by earlier corrections of claim_id "
            f"{command.claim_id} seq {c.verification_seq} exceeds the amount paid {payable.amount}",
        )
    return payable


def correction_memo(c: PaymentCorrectionRequestedPayload, approved_by: str) -> str:
    """The ledger's record of a correction: the finding and both operators."""
    return f"VEDIKA {c.correction_id} by {c.requested_by}, approved by {approved_by}: {c.reason}"[:500]
