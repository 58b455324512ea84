"""Thin handlers: parse → call the domain → write through the repository and the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import structlog

from services.payments import metrics
from services.payments.adapters import repository as repo
from services.payments.domain.due_dates import payable_due_on, payment_due_on
from services.payments.domain.ledger import correction_postings
from services.payments.domain.payment_run import PlannedPayment, plan_run
from services.payments.entrypoints.capitation import fktp_row, run_capitation
from services.payments.entrypoints.four_eyes import allocate_funds, approve, hold
from services.payments.settings import get_payments_settings
from shared.calendar import get_calendar
from shared.clock import Clock
from shared.consumer import Handler, PermanentError
from shared.db import advisory_key
from shared.envelopes import follow_up, originate
from shared.events import (
    ApprovalGranted,
    CapitationRunRequested,
    ClaimPaid,
    ClaimPaidPayload,
    ClaimVerified,
    Envelope,
    FundsAllocated,
    PaymentCorrectionRequested,
    PaymentCorrectionRequestedPayload,
    PaymentRunRequested,
)
from shared.outbox import Tx
from shared.settings import PolicySettings

log = structlog.get_logger(__name__)
PRODUCER = "payments"


async def create_payable(tx: Tx, event: ClaimVerified, policy: PolicySettings) -> None:
    """One payable per (claim, verification_seq), due `payment_days` after the file was complete.

    A supplementary verification (an upheld dispute) is due on the main verification's due date instead.
    """
    p = event.payload
    own_due_on = payment_due_on(p.verified_on, get_calendar(), policy.payment_days, policy.payment_day_unit)
    from_original = get_payments_settings().dispute_due_from_original
    original = None if p.verification_seq == 0 else await repo.main_due_on(tx.conn, event.claim_id)
    due_on = payable_due_on(p.verification_seq, own_due_on, original, from_original)
    payable = repo.NewPayable(
        event.claim_id, p.verification_seq, p.nomor_sep, p.kode_rs, p.approved_amount, p.verified_on, due_on,
        p.deemed_complete, event.correlation_id, event.event_id,
    )  # fmt: skip
    try:
        created = await repo.add_payable(tx.conn, payable)
    except repo.ConflictingInput as exc:
        raise PermanentError(f"conflicting-{exc.field}", str(exc)) from exc
    if created is not None:
        metrics.PAYABLES_CREATED.inc()
        if p.verification_seq == 0 and from_original:
            # A supplementary that arrived before its main verification was given its own date: move it back.
            await repo.backdate_supplementaries(tx.conn, event.claim_id, due_on)


@dataclass(frozen=True)
class RunOrder:
    """A payment run both finance operators agreed on: its id, funds and the two names."""

    run_id: str
    funds: int
    requested_by: str
    approved_by: str
    cause: Envelope | None  # the approval that released it; None for the scheduled run


async def run_payments(
    tx: Tx, command: PaymentRunRequested, approval: ApprovalGranted, policy: PolicySettings, clock: Clock
) -> None:
    """An approved run request: pay with the requested funds."""
    run = command.payload
    order = RunOrder(run.run_id, run.funds, run.requested_by, approval.payload.approved_by, approval)
    await execute_run(tx, order, policy, clock)


async def execute_run(tx: Tx, order: RunOrder, policy: PolicySettings, clock: Clock) -> bool:
    """Pay open payables oldest-due first with the run's funds; a run id is applied at most once."""
    # Runs are serialised: a second run waits for the first to commit, then sees its payments.
    await tx.conn.execute("SELECT pg_advisory_xact_lock($1)", advisory_key(f"{tx.schema}:payment-run"))
    paid_on = clock.today()
    try:
        started = await repo.start_run(
            tx.conn, order.run_id, order.funds, paid_on, order.requested_by, order.approved_by
        )
    except repo.ConflictingInput as exc:
        raise PermanentError(f"conflicting-{exc.field}", str(exc)) from exc
    if not started:
        log.info("payment run already applied", run_id=order.run_id)
        return False
    payables = {p.id: p for p in await repo.open_payables(tx.conn, lock=True)}
    owed_back = await repo.receivables(tx.conn)  # VEDIKA recoveries, netted from each hospital's payments
    plan = plan_run((p.as_open() for p in payables.values()), order.funds, paid_on, policy.penalty_method, owed_back)
    for planned in plan.payments:
        payable = payables[planned.payable.id]
        payment_id, entries = await repo.record_payment(
            tx.conn, order.run_id, payable, planned, paid_on, policy.penalty_method
        )
        tx.emit(paid_event(order, payable, planned, payment_id, entries, paid_on, policy, clock))
        metrics.record_payment(planned.total, planned.penalty, late=planned.days_late > 0)
    await repo.finish_run(tx.conn, order.run_id, len(plan.payments), plan.paid_total, plan.remaining)
    log.info(
        "payment run applied", run_id=order.run_id, paid=len(plan.payments), total=plan.paid_total,
        remaining=plan.remaining, recovered=plan.recovered_total, open_left=len(payables) - len(plan.payments),
        requested_by=order.requested_by,
        approved_by=order.approved_by,
    )  # fmt: skip
    return True


def paid_event(
    order: RunOrder,
    payable: repo.PayableRow,
    planned: PlannedPayment,
    payment_id: str,
    entries: list[str],
    paid_on: date,
    policy: PolicySettings,
    clock: Clock,
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
        penalty_method=policy.penalty_method,
        payment_run_id=order.run_id,
        payment_id=payment_id,
        ledger_entry_ids=entries,
        requested_by=order.requested_by,
        approved_by=order.approved_by,
    )
    if order.cause is None:
        return originate(
            ClaimPaid, payload, producer=PRODUCER, clock=clock, claim_id=payable.claim_id,
            correlation_id=payable.correlation_id,
        )  # fmt: skip
    return follow_up(
        ClaimPaid, order.cause, payload, producer=PRODUCER, clock=clock,
        claim_id=payable.claim_id, correlation_id=payable.correlation_id,
    )  # fmt: skip


async def correct_payment(tx: Tx, command: PaymentCorrectionRequested, approval: ApprovalGranted, clock: Clock) -> None:
    """A VEDIKA finding on a paid claim: a new ledger entry (the hospital owes it back), never an edit."""
    c = command.payload
    assert command.claim_id is not None
    entry_id = f"LE-CORR-{c.correction_id}"
    if await repo.ledger_entry_exists(tx.conn, entry_id):
        return  # this correction was booked before
    payable = await _correctable(tx, command)
    (posting,) = correction_postings(payable.kode_rs, c.recover_amount)
    await repo.book(
        tx.conn, entry_id, posting, clock.today(), claim_id=payable.claim_id, kode_rs=payable.kode_rs,
        payable_id=payable.id, memo=correction_memo(c, approval.payload.approved_by),
    )  # fmt: skip


def refuse_early(command: Envelope) -> None:
    """A request whose own content can never be applied is refused when it arrives, not when approved.

    (A correction is judged on approval: the payment it recovers from may still be on its way.)
    """
    if isinstance(command, CapitationRunRequested):
        for line in command.payload.lines:
            fktp_row(line)


async def _correctable(tx: Tx, command: PaymentCorrectionRequested) -> repo.PayableRow:
    """The paid payable a correction recovers from; refused when there is none or it recovers too much.

    All corrections of one payment together recover at most what was paid for it (the approved
    amount; the penalty was BPJS's own lateness): two 60 % findings never recover 120 %. The second
    is refused whole, by name, rather than silently capped: a VEDIKA reviewer must reconcile the
    findings and request what is really owed. The payable row is locked so two concurrent
    corrections are judged one after the other.
    """
    c = command.payload
    assert command.claim_id is not None
    payable = await repo.paid_payable(tx.conn, command.claim_id, c.verification_seq, lock=True)
    if payable is None:
        raise PermanentError(
            "correction-not-paid", f"claim_id {command.claim_id} seq {c.verification_seq}: no paid payable to correct"
        )
    already = await repo.corrected_so_far(tx.conn, payable.id)
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


def make_handler(policy: PolicySettings, clock: Clock) -> Handler:
    """The payments consumer's handler: verified claims become payables; money commands wait for approval."""

    async def release(tx: Tx, command: Envelope, approval: ApprovalGranted) -> None:
        if isinstance(command, PaymentRunRequested):
            await run_payments(tx, command, approval, policy, clock)
        elif isinstance(command, PaymentCorrectionRequested):
            await correct_payment(tx, command, approval, clock)
        elif isinstance(command, CapitationRunRequested):
            await run_capitation(tx, command, approval, clock)
        elif isinstance(command, FundsAllocated):
            await allocate_funds(tx, command, approval)
        else:
            raise PermanentError("unexpected-event", f"payments cannot release {type(command).__name__}")

    async def handle(tx: Tx, event: Envelope) -> None:
        if isinstance(event, ClaimVerified):
            await create_payable(tx, event, policy)
        elif isinstance(
            event, PaymentRunRequested | PaymentCorrectionRequested | CapitationRunRequested | FundsAllocated
        ):
            refuse_early(event)
            await hold(tx, event)
        elif isinstance(event, ApprovalGranted):
            await approve(tx, event, release)
        else:
            raise PermanentError("unexpected-event", f"payments does not handle {type(event).__name__}")

    return handle
