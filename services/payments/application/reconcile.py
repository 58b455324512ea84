"""Reconciliation with the broker: every payment on `claims.paid` is in the database, the ledger with it.

`claims.paid` outlives the database. A database restored from a backup older than the last payment run has
forgotten payments it made; a run planned on it would pay those payables again. Before any run, each
payment the topic shows and the database lacks is rebuilt as it was made: the payable (rebuilt too when the
verification came after the backup) marked paid under the same payment id, the payment with its amount,
penalty, recovery, days late and date, its run, and the same ledger entries (ids, postings, memos) as the run
booked, so the ledger balances. Nothing is published: those events are on the topic already.

Idempotent: a payment the database holds is left alone, so reconciling twice rebuilds nothing the second
time. Payment numbers are moved past every number the topic shows, so a new run never reuses one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import structlog

from services.payments.adapters.capitation import CapitationPayment
from services.payments.adapters.history import History
from services.payments.adapters.ledger import LedgerEntry
from services.payments.adapters.payables import NewPayable, PayableKey
from services.payments.adapters.reconcile import PayableState, ReconcileStore
from services.payments.adapters.repository import PayableRow
from services.payments.adapters.runs import Payment, RunTotals
from services.payments.application.gate import PAYMENTS_CONFLICTING, PAYMENTS_REBUILT
from services.payments.application.payables import book_payable
from services.payments.application.ports import UnitOfWorkLike
from services.payments.application.runs import book_payment
from services.payments.domain.ledger import capitation_postings
from services.payments.domain.payment_run import PlannedPayment
from shared.events import CapitationPaid, ClaimPaid, ClaimVerified

log = structlog.get_logger(__name__)

PAYMENT_NUMBER = re.compile(r"PAY-(\d+)")
UNKNOWN_OPERATOR = "unknown (rebuilt from claims.paid)"


@dataclass(frozen=True, slots=True)
class Reconciled:
    read: int  # ClaimPaid events read from the topic
    payments_rebuilt: int
    payables_rebuilt: int
    runs_rebuilt: int
    conflicts: int  # payables the topic shows paid under a second payment id (left as the database has them)


def payable_key(event: ClaimPaid) -> PayableKey:
    assert event.claim_id is not None, "ClaimPaid is keyed by its claim"
    return (event.claim_id, event.payload.verification_seq)


def payment_number(payment_id: str) -> int:
    """The sequence number in PAY-000000042 (0 for an id of another shape)."""
    found = PAYMENT_NUMBER.fullmatch(payment_id)
    return int(found.group(1)) if found else 0


def net_paid(event: ClaimPaid) -> int:
    p = event.payload
    return p.net_paid if p.net_paid is not None else p.total_paid - p.recovered_amount


async def reconcile(
    uow: UnitOfWorkLike, store: ReconcileStore, history: History, paid: Sequence[ClaimPaid]
) -> Reconciled:
    """Rebuild every payment of `paid` (claims.paid, in topic order) the database lacks, in one unit of work."""
    await uow.runs.serialise()  # no run (or deadline check) interleaves with the rebuild
    by_payment: dict[str, ClaimPaid] = {}
    for event in paid:  # a republished event (same event, same payment id) counts once
        by_payment.setdefault(event.payload.payment_id, event)
    highest = max(map(payment_number, by_payment), default=0)
    if highest:
        await store.advance_payment_numbers(highest)
    known = await store.known_payments(list(by_payment))
    missing = [e for payment_id, e in by_payment.items() if payment_id not in known]
    if not missing:
        return Reconciled(len(paid), 0, 0, 0, 0)
    states = await store.payables({payable_key(e) for e in missing})
    rebuild, conflicts = without_conflicts(missing, states)
    rows = {key: state.row for key, state in states.items()}
    created = await rebuild_payables(uow, history, [e for e in rebuild if payable_key(e) not in rows])
    rows.update(created)
    runs = await rebuild_runs(uow, store, history, rebuild, list(by_payment.values()))
    for event in rebuild:
        rebuild_payment(uow, rows[payable_key(event)], event)
    PAYMENTS_REBUILT.inc(len(rebuild))
    PAYMENTS_CONFLICTING.inc(conflicts)
    result = Reconciled(len(paid), len(rebuild), len(created), runs, conflicts)
    log.warning("payments rebuilt from claims.paid", read=result.read, payments=result.payments_rebuilt,
                payables=result.payables_rebuilt, runs=result.runs_rebuilt, conflicts=conflicts)  # fmt: skip
    return result


def without_conflicts(
    missing: Sequence[ClaimPaid], states: dict[PayableKey, PayableState]
) -> tuple[list[ClaimPaid], int]:
    """The payments to rebuild: not those of a payable already paid under another id (it was paid twice once)."""
    rebuild: list[ClaimPaid] = []
    taken = {key: state.payment_id for key, state in states.items() if state.payment_id is not None}
    conflicts = 0
    for event in missing:
        key = payable_key(event)
        if key in taken:
            conflicts += 1
            log.error("claims.paid shows a payable paid under a second payment id; the database's stays",
                      claim_id=key[0], verification_seq=key[1], payment_id=event.payload.payment_id,
                      recorded_payment_id=taken[key], rule="PAID-ONCE")  # fmt: skip
            continue
        taken[key] = event.payload.payment_id
        rebuild.append(event)
    return rebuild, conflicts


async def rebuild_payables(
    uow: UnitOfWorkLike, history: History, events: Sequence[ClaimPaid]
) -> dict[PayableKey, PayableRow]:
    """The payables verified after the backup, from their verification (or, past its retention, the payment)."""
    if not events:
        return {}
    verifications = await history.verifications({payable_key(e) for e in events})
    new = [new_payable(e, verifications.get(payable_key(e))) for e in events]
    ids = await uow.payables.add(new, backdate=False)  # the due date is the one the payment was judged on
    rows: dict[PayableKey, PayableRow] = {}
    for payable in new:
        book_payable(uow, ids[payable.key], payable)
        rows[payable.key] = PayableRow(
            ids[payable.key], payable.claim_id, payable.verification_seq, payable.nomor_sep, payable.kode_rs,
            payable.amount, payable.verified_on, payable.due_on, payable.correlation_id, payable.source_event_id,
        )  # fmt: skip
    return rows


def new_payable(event: ClaimPaid, verification: ClaimVerified | None) -> NewPayable:
    p = event.payload
    key = payable_key(event)
    if verification is None:
        # claims.verified keeps 30 days, claims.paid 90: the verification date is then unknown; the
        # payment's own date bounds it (the payable only orders open payables, and this one is paid).
        log.warning("verification no longer on claims.verified; payable rebuilt from its payment alone",
                    claim_id=key[0], verification_seq=key[1])  # fmt: skip
        verified_on, deemed_complete, source = min(p.paid_on, p.due_on), False, event.event_id
    else:
        v = verification.payload
        verified_on, deemed_complete, source = v.verified_on, v.deemed_complete, verification.event_id
    return NewPayable(
        key[0], key[1], p.nomor_sep, p.kode_rs, p.approved_amount, verified_on, p.due_on, deemed_complete,
        event.correlation_id, source,
    )  # fmt: skip


async def rebuild_runs(
    uow: UnitOfWorkLike, store: ReconcileStore, history: History, rebuild: Sequence[ClaimPaid],
    every: Sequence[ClaimPaid],
) -> int:  # fmt: skip
    """The runs of the rebuilt payments the database lacks, with their request's funds and totals."""
    wanted = {e.payload.payment_run_id for e in rebuild}
    lacking = sorted(wanted - await store.known_runs(wanted))
    if not lacking:
        return 0
    requests = await history.run_requests(lacking)
    for run_id in lacking:
        events = [e for e in every if e.payload.payment_run_id == run_id]
        first = events[0].payload
        total = sum(map(net_paid, events))
        request = requests.get(run_id)
        # Without its request (a scheduled run, or past retention) the funds are what the run spent.
        funds = request.payload.funds if request is not None else total
        await uow.runs.start(run_id, funds, first.paid_on, first.requested_by or UNKNOWN_OPERATOR,
                             first.approved_by or UNKNOWN_OPERATOR)  # fmt: skip
        uow.runs.finish(RunTotals(run_id, len(events), total, funds - total))
    return len(lacking)


def rebuild_payment(uow: UnitOfWorkLike, payable: PayableRow, event: ClaimPaid) -> None:
    """The payment as the run made it: its row, the payable marked paid, the same ledger entries."""
    p = event.payload
    planned = PlannedPayment(payable.as_open(), p.penalty, p.total_paid, p.days_late, p.recovered_amount)
    uow.runs.add_payment(
        Payment(
            p.payment_id, payable.id, p.payment_run_id, p.paid_on, p.approved_amount, p.penalty, p.total_paid,
            p.days_late, p.penalty_method, p.recovered_amount,
        )
    )  # fmt: skip
    uow.payables.mark_paid(payable.id, p.payment_id)
    entries = book_payment(uow, p.payment_run_id, payable, planned, p.payment_id, p.paid_on, p.penalty_method)
    if entries != list(p.ledger_entry_ids):
        log.warning("rebuilt ledger entries differ from the event's", payment_id=p.payment_id, rebuilt=entries,
                    published=list(p.ledger_entry_ids))  # fmt: skip


# ----------------------------------------------------------------------------- capitation.paid


async def reconcile_capitation(uow: UnitOfWorkLike, store: ReconcileStore, paid: Sequence[CapitationPaid]) -> int:
    """Rebuild every capitation payment of `paid` (capitation.paid) the database lacks; how many were rebuilt.

    One capitation per facility per month: a run requested again after a restore then finds it paid
    (`capitation-already-paid`) or its run id applied, and pays nothing twice.
    """
    by_key: dict[tuple[str, str], CapitationPaid] = {}
    for event in paid:
        by_key.setdefault((event.payload.month, event.payload.kode_faskes), event)
    known = await store.capitation_paid(list(by_key))
    missing = [e for key, e in by_key.items() if key not in known]
    if not missing:
        return 0
    runs = {e.payload.run_id for e in missing}
    for run_id in sorted(runs - await store.known_capitation_runs(runs)):
        lines = [e.payload for e in by_key.values() if e.payload.run_id == run_id]
        await uow.capitation.start(run_id, lines[0].month, len(lines), sum(p.amount for p in lines),
                                   lines[0].requested_by or UNKNOWN_OPERATOR,
                                   lines[0].approved_by or UNKNOWN_OPERATOR)  # fmt: skip
    for event in missing:
        rebuild_capitation(uow, event)
    log.warning("capitation payments rebuilt from capitation.paid", read=len(paid), rebuilt=len(missing))
    return len(missing)


def rebuild_capitation(uow: UnitOfWorkLike, event: CapitationPaid) -> None:
    """One facility's capitation payment and its ledger entry, as `application/capitation.py` booked them."""
    p = event.payload
    pct = Fraction(str(p.kbk_percentage))  # the run's exact percentage, as it wrote it
    detail = {"rate": p.rate, "base": p.base_amount, "pct": str(pct), "service_fee": p.service_fee_part,
              "operations": p.operations_part, "ownership": p.ownership}  # fmt: skip
    uow.capitation.add_payment(CapitationPayment(p.run_id, p.month, p.kode_faskes, p.amount, detail))
    (posting,) = capitation_postings(p.amount)
    uow.ledger.book(
        LedgerEntry(
            f"LE-CAP-{p.run_id}-{p.kode_faskes}", posting, p.due_on, run_id=p.run_id,
            memo=f"capitation {p.month} {p.kode_faskes}: {p.registered_members} x {p.rate} x {pct}%",
        )
    )  # fmt: skip
