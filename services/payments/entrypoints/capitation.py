"""A capitation run: every FKTP of the month paid at once, or none (nothing half-paid)."""

from __future__ import annotations

import json
from fractions import Fraction

from services.payments.adapters import repository as repo
from services.payments.domain.capitation import CapitationResult, FktpRow, KbkIndicators, compute_capitation
from services.payments.domain.ledger import capitation_postings
from shared.calendar import get_calendar
from shared.clock import Clock
from shared.consumer import PermanentError
from shared.envelopes import follow_up
from shared.events import (
    ApprovalGranted,
    CapitationLine,
    CapitationPaid,
    CapitationPaidPayload,
    CapitationRunRequested,
)
from shared.outbox import Tx

PRODUCER = "payments"


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


async def run_capitation(tx: Tx, command: CapitationRunRequested, approval: ApprovalGranted, clock: Clock) -> None:
    """An approved run: compute and book every line; any refusal undoes the whole run (its savepoint)."""
    run = command.payload
    year, month = (int(x) for x in run.month.split("-"))
    results = [compute_capitation(fktp_row(line), year, month, get_calendar()) for line in run.lines]
    total = sum(r.amount_payable for r in results)
    inserted = await tx.conn.fetchval(
        """INSERT INTO capitation_runs (run_id, month, facilities, total, requested_by, approved_by)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (run_id) DO NOTHING RETURNING true""",
        run.run_id, run.month, len(results), total, run.requested_by, approval.payload.approved_by,
    )  # fmt: skip
    if not inserted:
        return  # this run id was applied before
    for line, result in zip(run.lines, results, strict=True):
        entry = await _book(tx, run.run_id, run.month, line, result)
        payload = CapitationPaidPayload(
            run_id=run.run_id, month=run.month, kode_faskes=line.kode_faskes, facility_type=line.facility_type,
            registered_members=result.members, rate=result.rate, base_amount=result.base_amount,
            kbk_score=float(result.kbk_score) if result.kbk_score is not None else None,
            kbk_percentage=float(result.payment_pct), amount=result.amount_payable,
            ownership=result.ownership, service_fee_part=result.service_fee, operations_part=result.operations,
            due_on=result.due_on,
            ledger_entry_ids=[entry], requested_by=run.requested_by, approved_by=approval.payload.approved_by,
        )  # fmt: skip
        tx.emit(follow_up(CapitationPaid, approval, payload, producer=PRODUCER, clock=clock))


async def _book(tx: Tx, run_id: str, month: str, line: CapitationLine, result: CapitationResult) -> str:
    exists = await tx.conn.fetchval(
        "SELECT run_id FROM capitation_payments WHERE month = $1 AND kode_faskes = $2", month, line.kode_faskes
    )
    if exists:
        raise PermanentError(
            "capitation-already-paid", f"{line.kode_faskes} already has {month} capitation (run {exists})"
        )
    detail = {"rate": result.rate, "base": result.base_amount, "pct": str(result.payment_pct),
              "service_fee": result.service_fee, "operations": result.operations,
              "ownership": result.ownership}  # fmt: skip
    await tx.conn.execute(
        """INSERT INTO capitation_payments (run_id, month, kode_faskes, amount, detail)
           VALUES ($1, $2, $3, $4, $5::jsonb)""",
        run_id, month, line.kode_faskes, result.amount_payable, json.dumps(detail),
    )  # fmt: skip
    (posting,) = capitation_postings(result.amount_payable)
    return await repo.book(
        tx.conn, f"LE-CAP-{run_id}-{line.kode_faskes}", posting, result.due_on, run_id=run_id,
        memo=f"capitation {month} {line.kode_faskes}: {result.members} x {result.rate} x {result.payment_pct}%",
    )  # fmt: skip
