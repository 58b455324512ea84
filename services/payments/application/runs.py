"""A payment run: open payables paid oldest-due first with the run's funds, a run id applied at most once.

A run costs a constant number of round trips, however many it pays: the run lock, its registration, the
open payables and the hospitals' receivables read once, its payment ids drawn at once, then one insert of
the payments, one update of the payables, one insert of the ledger entries and one of the claims.paid
outbox rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import structlog

from services.payments import metrics
from services.payments.adapters.ledger import LedgerEntry
from services.payments.adapters.repository import ConflictingInput, PayableRow
from services.payments.adapters.runs import Payment, RunTotals
from services.payments.application.config import PRODUCER, Config
from services.payments.application.ports import UnitOfWorkLike
from services.payments.domain.ledger import EntryKind, payment_postings
from services.payments.domain.payment_run import PlannedPayment, plan_run
from shared.consumer import PermanentError
from shared.envelopes import follow_up, originate
from shared.events import ApprovalGranted, ClaimPaid, ClaimPaidPayload, Envelope, PaymentRunRequested

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class RunOrder:
    """A payment run both finance operators agreed on: its id, funds and the two names."""

    run_id: str
    funds: int
    requested_by: str
    approved_by: str
    cause: Envelope | None  # the approval that released it; None for the scheduled run


async def release_run(
    config: Config, uow: UnitOfWorkLike, command: PaymentRunRequested, approval: ApprovalGranted
) -> None:
    """An approved run request: pay with the requested funds."""
    run = command.payload
    await execute_run(config, uow, RunOrder(run.run_id, run.funds, run.requested_by, approval.payload.approved_by,
                                            approval))  # fmt: skip


async def execute_run(config: Config, uow: UnitOfWorkLike, order: RunOrder) -> bool:
    """Pay open payables oldest-due first with the run's funds; False when the run id was applied before."""
    config.gate.check(order.run_id)  # not before the database holds every payment claims.paid shows
    # Runs are serialised: a second run waits for the first to commit, then sees its payments.
    await uow.runs.serialise()
    paid_on = config.clock.today()
    method = config.policy.penalty_method
    try:
        started = await uow.runs.start(order.run_id, order.funds, paid_on, order.requested_by, order.approved_by)
    except ConflictingInput as exc:
        raise PermanentError(f"conflicting-{exc.field}", str(exc)) from exc
    if not started:
        log.info("payment run already applied", run_id=order.run_id)
        return False
    payables = {p.id: p for p in await uow.payables.open(lock=True)}
    owed_back = await uow.ledger.receivables()  # VEDIKA recoveries, netted from each hospital's payments
    plan = plan_run((p.as_open() for p in payables.values()), order.funds, paid_on, method, owed_back)
    payment_ids = await uow.runs.payment_ids(len(plan.payments))
    for planned, payment_id in zip(plan.payments, payment_ids, strict=True):
        payable = payables[planned.payable.id]
        uow.runs.add_payment(
            Payment(
                payment_id, payable.id, order.run_id, paid_on, payable.amount, planned.penalty, planned.total,
                planned.days_late, method, planned.recovered,
            )
        )  # fmt: skip
        uow.payables.mark_paid(payable.id, payment_id)
        entries = book_payment(uow, order.run_id, payable, planned, payment_id, paid_on, method)
        uow.emit(paid_event(config, order, payable, planned, payment_id, entries, paid_on))
        metrics.record_payment(planned.total, planned.penalty, late=planned.days_late > 0)
    uow.runs.finish(RunTotals(order.run_id, len(plan.payments), plan.paid_total, plan.remaining))
    log.info(
        "payment run applied", run_id=order.run_id, paid=len(plan.payments), total=plan.paid_total,
        remaining=plan.remaining, recovered=plan.recovered_total, open_left=len(payables) - len(plan.payments),
        requested_by=order.requested_by,
        approved_by=order.approved_by,
    )  # fmt: skip
    return True


def book_payment(
    uow: UnitOfWorkLike, run_id: str, payable: PayableRow, planned: PlannedPayment, payment_id: str, paid_on: date,
    method: str,
) -> list[str]:  # fmt: skip
    """The payment's ledger entries: the liability settled by cash and, when the hospital owes money back, by the
    recovery netted from the receivable (its own entry, so the reconciliation can show both); the penalty in cash."""
    memos: dict[EntryKind, str] = {
        "payment": f"{payment_id} for {payable.claim_id}",
        "recovery": f"{payment_id}: VEDIKA recovery netted from {payable.claim_id}",
        "penalty": f"{planned.days_late} days late ({method})",
    }
    return [
        uow.ledger.book(
            LedgerEntry(
                f"LE-{payment_id}-{posting.kind}", posting, paid_on, claim_id=payable.claim_id,
                kode_rs=payable.kode_rs, payable_id=payable.id, run_id=run_id, memo=memos[posting.kind],
            )
        )
        for posting in payment_postings(payable.kode_rs, payable.amount, planned.penalty, planned.recovered)
    ]  # fmt: skip


def paid_event(
    config: Config,
    order: RunOrder,
    payable: PayableRow,
    planned: PlannedPayment,
    payment_id: str,
    entries: list[str],
    paid_on: date,
) -> ClaimPaid:
    """The event finance books: everything about one payment, and the two operators who released it."""
    payload = ClaimPaidPayload(
        nomor_sep=payable.nomor_sep,
        kode_rs=payable.kode_rs,
        verification_seq=payable.verification_seq,
        approved_amount=payable.amount,
        penalty=planned.penalty,
        total_paid=planned.total,
        recovered_amount=planned.recovered,
        net_paid=planned.net,
        due_on=payable.due_on,
        paid_on=paid_on,
        days_late=planned.days_late,
        penalty_method=config.policy.penalty_method,
        payment_run_id=order.run_id,
        payment_id=payment_id,
        ledger_entry_ids=entries,
        requested_by=order.requested_by,
        approved_by=order.approved_by,
    )
    clock = config.clock
    if order.cause is None:
        return originate(
            ClaimPaid, payload, producer=PRODUCER, clock=clock, claim_id=payable.claim_id,
            correlation_id=payable.correlation_id,
        )  # fmt: skip
    return follow_up(
        ClaimPaid, order.cause, payload, producer=PRODUCER, clock=clock,
        claim_id=payable.claim_id, correlation_id=payable.correlation_id,
    )  # fmt: skip
