"""Verified claims become payables: one per (claim, verification_seq), due `payment_days` after the file was complete.

A supplementary verification (an upheld dispute) is due on the main verification's due date instead. A
batch of N verifications costs a constant number of round trips: the main due dates its supplementaries
need (one `= ANY` read, only when it has supplementaries), one insert of every new payable (which also
backdates supplementaries that arrived before their main), the recorded payables its replays are compared
with (only when it has replays), and one insert of their ledger entries at flush.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from services.payments import metrics
from services.payments.adapters.ledger import LedgerEntry
from services.payments.adapters.payables import NewPayable, PayableKey, RecordedPayable
from services.payments.adapters.repository import ConflictingInput
from services.payments.application.config import Config
from services.payments.application.ports import UnitOfWorkLike
from services.payments.domain.due_dates import payable_due_on, payment_due_on
from services.payments.domain.ledger import payable_postings
from shared.calendar import get_calendar
from shared.consumer import PermanentError
from shared.events import ClaimVerified


async def verified(config: Config, uow: UnitOfWorkLike, events: Sequence[ClaimVerified]) -> None:
    """Make a batch of verifications payables; a replay is absorbed, a conflicting one refused by name."""
    due = await due_dates(config, uow, events)
    new: dict[PayableKey, NewPayable] = {}  # the first of each key in the batch
    again: list[NewPayable] = []  # the same key later in the batch: a replay of the first
    for event, due_on in zip(events, due, strict=True):
        p = event.payload
        payable = NewPayable(
            event.claim_id, p.verification_seq, p.nomor_sep, p.kode_rs, p.approved_amount, p.verified_on, due_on,
            p.deemed_complete, event.correlation_id, event.event_id,
        )  # fmt: skip
        if payable.key in new:
            again.append(payable)
        else:
            new[payable.key] = payable
    created = await uow.payables.add(list(new.values()), backdate=config.settings.dispute_due_from_original)
    replays = [*(p for k, p in new.items() if k not in created), *again]
    if replays:
        recorded = await uow.payables.recorded({p.key for p in replays})
        for payable in replays:
            refuse_if_changed(recorded[payable.key], payable)
    for key, payable in new.items():  # in batch order
        if key in created:
            book_payable(uow, created[key], payable)
            metrics.PAYABLES_CREATED.inc()


async def due_dates(config: Config, uow: UnitOfWorkLike, events: Sequence[ClaimVerified]) -> list[date]:
    """Each verification's due date; a supplementary's from its main verification, recorded or in this batch."""
    policy, from_original = config.policy, config.settings.dispute_due_from_original
    calendar = get_calendar()
    days, unit = policy.payment_days, policy.payment_day_unit
    own = [payment_due_on(e.payload.verified_on, calendar, days, unit) for e in events]
    supplementary = {e.claim_id for e in events if e.payload.verification_seq > 0}
    originals = await uow.payables.main_due_dates(supplementary) if from_original and supplementary else {}
    for event, due_on in zip(events, own, strict=True):
        if event.payload.verification_seq == 0:
            # A main verification of this batch; a recorded one wins (it is what was recorded, and stays).
            # Whether the main comes before or after its supplementary in the batch, the supplementary is due
            # on the earlier of the two dates, as when the main arrives later and moves it back.
            originals.setdefault(event.claim_id, due_on)
    return [
        payable_due_on(
            e.payload.verification_seq, due_on,
            originals.get(e.claim_id) if e.payload.verification_seq > 0 else None, from_original,
        )
        for e, due_on in zip(events, own, strict=True)
    ]  # fmt: skip


def refuse_if_changed(recorded: RecordedPayable, p: NewPayable) -> None:
    """A redelivered verification is fine; one that changes the amount, date or hospital is refused, not ignored."""
    for field, was, now in (
        ("approved_amount", recorded.amount, p.amount),
        ("verified_on", recorded.verified_on, p.verified_on),
        ("kode_rs", recorded.kode_rs, p.kode_rs),
    ):
        if was != now:
            exc = ConflictingInput(f"claim {p.claim_id} verification {p.verification_seq}", field, was, now)
            raise PermanentError(f"conflicting-{field}", str(exc)) from exc


def book_payable(uow: UnitOfWorkLike, payable_id: int, p: NewPayable) -> None:
    """The liability the verification creates, in the ledger."""
    for posting in payable_postings(p.kode_rs, p.amount):
        uow.ledger.book(
            LedgerEntry(
                f"LE-{payable_id}-{posting.kind}", posting, p.verified_on, claim_id=p.claim_id, kode_rs=p.kode_rs,
                payable_id=payable_id, memo=f"verified claim {p.claim_id} seq {p.verification_seq}, due {p.due_on}",
            )
        )  # fmt: skip
