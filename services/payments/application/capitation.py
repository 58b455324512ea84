"""A capitation run: every FKTP of the month paid at once, or none (nothing half-paid).

A run of any size costs a constant number of round trips: its registration, one read of the facilities
already paid for the month, then one insert of its payments, one of their ledger entries and one of the
capitation.paid outbox rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from services.payments.adapters.capitation import CapitationPayment
from services.payments.adapters.ledger import LedgerEntry
from services.payments.application.config import PRODUCER, Config
from services.payments.application.four_eyes import hold
from services.payments.application.ports import UnitOfWorkLike
from services.payments.domain.capitation import CapitationResult, FktpRow, KbkIndicators, compute_capitation
from services.payments.domain.ledger import capitation_postings
from shared.calendar import get_calendar
from shared.consumer import PermanentError
from shared.envelopes import follow_up
from shared.events import (
    ApprovalGranted,
    CapitationLine,
    CapitationPaid,
    CapitationPaidPayload,
    CapitationRunRequested,
)


def fktp_row(line: CapitationLine) -> FktpRow:
    """The domain's row from the command's line (indicators as exact decimals)."""
    values = (line.contact_rate_per_mille, line.non_specialist_referral_pct, line.controlled_prolanis_pct)
    indicators = None
    if any(v is not None for v in values):
        if any(v is None for v in values):
            raise PermanentError("capitation-indicators", f"{line.kode_faskes}: give all three KBK indicators or none")
        contact, referral, prolanis = (Fraction(str(v)) for v in values)
        indicators = KbkIndicators(contact, referral, prolanis)
    return FktpRow(
        line.kode_faskes, line.facility_type, line.registered_members, line.doctors, line.has_dentist, indicators,
        line.ownership,
    )  # fmt: skip


async def hold_capitation(config: Config, uow: UnitOfWorkLike, commands: Sequence[CapitationRunRequested]) -> None:
    """A request whose own lines can never be paid is refused when it arrives, not held for an approver.

    (A correction, by contrast, is judged on approval: the payment it recovers from may still be on its way.)
    """
    for command in commands:
        for line in command.payload.lines:
            fktp_row(line)
    await hold(config, uow, commands)


async def release_capitation(
    config: Config, uow: UnitOfWorkLike, command: CapitationRunRequested, approval: ApprovalGranted
) -> None:
    """An approved run: compute and book every line; any refusal undoes the whole run (its savepoint)."""
    run, approved_by = command.payload, approval.payload.approved_by
    config.gate.check(run.run_id)  # not before the database holds every capitation capitation.paid shows
    year, month = (int(x) for x in run.month.split("-"))
    results = [compute_capitation(fktp_row(line), year, month, get_calendar()) for line in run.lines]
    total = sum(r.amount_payable for r in results)
    if not await uow.capitation.start(run.run_id, run.month, len(results), total, run.requested_by, approved_by):
        return  # this run id was applied before
    paid = await uow.capitation.paid_in(run.month, {line.kode_faskes for line in run.lines})
    for line, result in zip(run.lines, results, strict=True):
        if line.kode_faskes in paid:
            raise PermanentError(
                "capitation-already-paid",
                f"{line.kode_faskes} already has {run.month} capitation (run {paid[line.kode_faskes]})",
            )
        paid[line.kode_faskes] = run.run_id  # the same facility twice in one run is paid once
        entry = book(uow, run.run_id, run.month, line, result)
        payload = CapitationPaidPayload(
            run_id=run.run_id, month=run.month, kode_faskes=line.kode_faskes, facility_type=line.facility_type,
            registered_members=result.members, rate=result.rate, base_amount=result.base_amount,
            kbk_score=float(result.kbk_score) if result.kbk_score is not None else None,
            kbk_percentage=float(result.payment_pct), amount=result.amount_payable,
            ownership=result.ownership, service_fee_part=result.service_fee, operations_part=result.operations,
            due_on=result.due_on,
            ledger_entry_ids=[entry], requested_by=run.requested_by, approved_by=approved_by,
        )  # fmt: skip
        uow.emit(follow_up(CapitationPaid, approval, payload, producer=PRODUCER, clock=config.clock))


def book(uow: UnitOfWorkLike, run_id: str, month: str, line: CapitationLine, result: CapitationResult) -> str:
    """One facility's payment and its ledger entry; the entry's id."""
    detail = {"rate": result.rate, "base": result.base_amount, "pct": str(result.payment_pct),
              "service_fee": result.service_fee, "operations": result.operations,
              "ownership": result.ownership}  # fmt: skip
    uow.capitation.add_payment(CapitationPayment(run_id, month, line.kode_faskes, result.amount_payable, detail))
    (posting,) = capitation_postings(result.amount_payable)
    return uow.ledger.book(
        LedgerEntry(
            f"LE-CAP-{run_id}-{line.kode_faskes}", posting, result.due_on, run_id=run_id,
            memo=f"capitation {month} {line.kode_faskes}: {result.members} x {result.rate} x {result.payment_pct}%",
        )
    )  # fmt: skip
