"""An in-memory unit of work for the payments use cases (no database), with the SQL repositories' semantics."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import TypeVar

from services.payments.adapters.approvals import Approval, HoldRequest, Subject
from services.payments.adapters.capitation import CapitationPayment
from services.payments.adapters.ledger import LedgerEntry
from services.payments.adapters.payables import NewPayable, PayableKey, RecordedPayable
from services.payments.adapters.repository import ConflictingInput, HeldCommand, PayableRow
from services.payments.adapters.runs import Allocation, Payment, RunTotals
from services.payments.domain.ledger import RECEIVABLE_PREFIX, balances
from shared.events import Envelope

E = TypeVar("E", bound=Envelope)


@dataclass
class Stored:
    row: PayableRow
    payment_id: str | None = None


class FakePayables:
    def __init__(self) -> None:
        self.rows: dict[PayableKey, Stored] = {}
        self.reads = 0  # statements that read
        self.inserts = 0  # statements that insert

    def due(self) -> dict[PayableKey, date]:
        return {k: s.row.due_on for k, s in self.rows.items()}

    async def main_due_dates(self, claim_ids: Collection[str]) -> dict[str, date]:
        self.reads += 1
        return {c: self.rows[(c, 0)].row.due_on for c in claim_ids if (c, 0) in self.rows}

    async def add(self, payables: Sequence[NewPayable], *, backdate: bool) -> dict[PayableKey, int]:
        self.inserts += 1
        before = dict(self.rows)  # the backdating sees only rows recorded before the insert, as in SQL
        created: dict[PayableKey, int] = {}
        for p in payables:
            if p.key in self.rows:
                continue
            payable_id = len(self.rows) + 1
            self.rows[p.key] = Stored(
                PayableRow(
                    payable_id, p.claim_id, p.verification_seq, p.nomor_sep, p.kode_rs, p.amount, p.verified_on,
                    p.due_on, p.correlation_id, p.source_event_id,
                )
            )  # fmt: skip
            created[p.key] = payable_id
            if backdate and p.verification_seq == 0:
                for key, s in before.items():
                    if key[0] == p.claim_id and key[1] >= 1 and s.payment_id is None and s.row.due_on > p.due_on:
                        s.row = replace(s.row, due_on=p.due_on)
        return created

    async def recorded(self, keys: Collection[PayableKey]) -> dict[PayableKey, RecordedPayable]:
        self.reads += 1
        return {
            k: RecordedPayable(self.rows[k].row.amount, self.rows[k].row.verified_on, self.rows[k].row.kode_rs)
            for k in keys
            if k in self.rows
        }

    async def open(self, *, lock: bool = False) -> list[PayableRow]:
        self.reads += 1
        unpaid = [s.row for s in self.rows.values() if s.payment_id is None]
        return sorted(unpaid, key=lambda r: (r.due_on, r.verified_on, r.id))

    async def paid(self, claim_id: str, verification_seq: int, *, lock: bool = False) -> PayableRow | None:
        self.reads += 1
        s = self.rows.get((claim_id, verification_seq))
        return s.row if s is not None and s.payment_id is not None else None

    def mark_paid(self, payable_id: int, payment_id: str) -> None:
        (stored,) = [s for s in self.rows.values() if s.row.id == payable_id]
        assert stored.payment_id is None, "a payable is paid once"
        stored.payment_id = payment_id


class FakeLedger:
    def __init__(self) -> None:
        self.entries: list[LedgerEntry] = []

    def book(self, entry: LedgerEntry) -> str:
        assert entry.entry_id not in {e.entry_id for e in self.entries}, "entry ids are unique"
        self.entries.append(entry)
        return entry.entry_id

    def balances(self) -> dict[str, int]:
        return balances(e.posting for e in self.entries)

    async def exists(self, entry_id: str) -> bool:
        return any(e.entry_id == entry_id for e in self.entries)

    async def corrected_so_far(self, payable_id: int) -> int:
        mine = (e for e in self.entries if e.payable_id == payable_id)
        return sum(e.posting.amount for e in mine if e.posting.kind == "adjustment")

    async def receivables(self) -> dict[str, int]:
        return {
            account.removeprefix(RECEIVABLE_PREFIX): balance
            for account, balance in self.balances().items()
            if account.startswith(RECEIVABLE_PREFIX) and balance > 0
        }


class FakePaymentRuns:
    def __init__(self) -> None:
        self.funds: dict[str, int] = {}
        self.payments: list[Payment] = []
        self.totals: dict[str, RunTotals] = {}
        self.serialised = 0
        self.numbers = 0

    async def serialise(self) -> None:
        self.serialised += 1

    async def start(self, run_id: str, funds: int, run_on: date, requested_by: str, approved_by: str) -> bool:
        if run_id in self.funds:
            if self.funds[run_id] != funds:
                raise ConflictingInput(f"payment run {run_id}", "funds", self.funds[run_id], funds)
            return False
        self.funds[run_id] = funds
        return True

    async def payment_ids(self, n: int) -> list[str]:
        first, self.numbers = self.numbers + 1, self.numbers + n
        return [f"PAY-{i:09d}" for i in range(first, self.numbers + 1)]

    def add_payment(self, payment: Payment) -> None:
        assert payment.payable_id not in {p.payable_id for p in self.payments}, "a payable is paid once"
        self.payments.append(payment)

    def finish(self, totals: RunTotals) -> None:
        self.totals[totals.run_id] = totals


class FakeAllocations:
    def __init__(self) -> None:
        self.added: list[Allocation] = []

    def add(self, allocation: Allocation) -> None:
        self.added.append(allocation)


class FakeCapitation:
    def __init__(self) -> None:
        self.runs: dict[str, int] = {}  # run_id -> total
        self.payments: list[CapitationPayment] = []

    async def start(
        self, run_id: str, month: str, facilities: int, total: int, requested_by: str, approved_by: str
    ) -> bool:
        if run_id in self.runs:
            return False
        self.runs[run_id] = total
        return True

    async def paid_in(self, month: str, kode_faskes: Collection[str]) -> dict[str, str]:
        return {p.kode_faskes: p.run_id for p in self.payments if p.month == month and p.kode_faskes in kode_faskes}

    def add_payment(self, payment: CapitationPayment) -> None:
        self.payments.append(payment)


class FakeHeldCommands:
    def __init__(self) -> None:
        self.rows: dict[Subject, HeldCommand] = {}
        self.approvals: list[Approval] = []
        self.locks = 0

    async def hold(self, requests: Sequence[HoldRequest]) -> dict[Subject, HeldCommand]:
        earlier = {r.subject: self.rows[r.subject] for r in requests if r.subject in self.rows}
        for r in requests:
            self.rows.setdefault(r.subject, HeldCommand(r.subject_kind, r.subject_id, r.command, r.requested_by, None))
        return earlier

    async def lock(self, subjects: Collection[Subject]) -> dict[Subject, HeldCommand]:
        self.locks += 1
        return {s: self.rows[s] for s in subjects if s in self.rows}

    def approve(self, approval: Approval) -> None:
        held = self.rows[approval.subject]
        assert approval.approved_by != held.requested_by, "the four_eyes constraint"
        self.rows[approval.subject] = replace(held, approved_by=approval.approved_by)
        self.approvals.append(approval)


class FakeUnitOfWork:
    def __init__(self) -> None:
        self.payables = FakePayables()
        self.ledger = FakeLedger()
        self.runs = FakePaymentRuns()
        self.allocations = FakeAllocations()
        self.capitation = FakeCapitation()
        self.held = FakeHeldCommands()
        self.emitted: list[Envelope] = []

    def emit(self, event: Envelope) -> None:
        self.emitted.append(event)

    def of_type(self, kind: type[E]) -> list[E]:
        return [e for e in self.emitted if isinstance(e, kind)]
