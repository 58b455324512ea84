"""Payment runs and the payments they make (one per payable, ever), and the funds finance allocates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol

from services.payments.adapters.repository import ConflictingInput, Settle
from shared.db import Conn, advisory_key


@dataclass(frozen=True, slots=True)
class Payment:
    payment_id: str
    payable_id: int
    run_id: str
    paid_on: date
    amount: int
    penalty: int
    total_paid: int
    days_late: int
    penalty_method: str
    recovered: int


@dataclass(frozen=True, slots=True)
class RunTotals:
    run_id: str
    paid_count: int
    paid_total: int
    remaining: int


class PaymentRuns(Protocol):
    """Payment runs as the use cases see them (SqlPaymentRuns, or a fake in unit tests)."""

    async def serialise(self) -> None:
        """Wait for any other run (or deadline check) to commit: a run sees every payment made before it."""
        ...

    async def start(self, run_id: str, funds: int, run_on: date, requested_by: str, approved_by: str) -> bool:
        """Register the run under its idempotency key; False when that run id was already applied.

        Raises ConflictingInput when the run id was applied with other funds.
        """
        ...

    async def payment_ids(self, n: int) -> list[str]:
        """`n` new payment ids, in increasing order."""
        ...

    def add_payment(self, payment: Payment) -> None: ...
    def finish(self, totals: RunTotals) -> None: ...


class SqlPaymentRuns:
    """`payment_runs` and `payments` in PostgreSQL: a run's payments written with one statement."""

    def __init__(self, conn: Conn, schema: str, settle: Settle) -> None:
        self.conn = conn
        self.schema = schema
        self.settle = settle
        self.payments: list[Payment] = []
        self.totals: list[RunTotals] = []

    async def serialise(self) -> None:
        await self.conn.execute("SELECT pg_advisory_xact_lock($1)", advisory_key(f"{self.schema}:payment-run"))

    async def start(self, run_id: str, funds: int, run_on: date, requested_by: str, approved_by: str) -> bool:
        await self.settle()
        inserted = await self.conn.fetchval(
            """INSERT INTO payment_runs (run_id, funds, run_on, requested_by, approved_by, paid_count, paid_total,
                                         remaining)
               VALUES ($1, $2, $3, $4, $5, 0, 0, $2) ON CONFLICT (run_id) DO NOTHING RETURNING true""",
            run_id, funds, run_on, requested_by, approved_by,
        )  # fmt: skip
        if not inserted:
            recorded = await self.conn.fetchval("SELECT funds FROM payment_runs WHERE run_id = $1", run_id)
            if recorded != funds:
                raise ConflictingInput(f"payment run {run_id}", "funds", recorded, funds)
        return bool(inserted)

    async def payment_ids(self, n: int) -> list[str]:
        if n == 0:
            return []
        rows = await self.conn.fetch("SELECT nextval('payment_number') AS n FROM generate_series(1, $1)", n)
        return [f"PAY-{number:09d}" for number in sorted(r["n"] for r in rows)]

    def add_payment(self, payment: Payment) -> None:
        self.payments.append(payment)

    def finish(self, totals: RunTotals) -> None:
        self.totals.append(totals)

    async def flush(self) -> None:
        payments, self.payments = self.payments, []
        totals, self.totals = self.totals, []
        if payments:
            # The unique payable_id refuses a second payment of any payable, whichever run made the first.
            await self.conn.execute(
                """INSERT INTO payments (payment_id, payable_id, run_id, paid_on, amount, penalty, total_paid,
                                         days_late, penalty_method, recovered)
                   SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::date[], $5::bigint[], $6::bigint[],
                                        $7::bigint[], $8::int[], $9::text[], $10::bigint[])""",
                [p.payment_id for p in payments], [p.payable_id for p in payments], [p.run_id for p in payments],
                [p.paid_on for p in payments], [p.amount for p in payments], [p.penalty for p in payments],
                [p.total_paid for p in payments], [p.days_late for p in payments],
                [p.penalty_method for p in payments], [p.recovered for p in payments],
            )  # fmt: skip
        if totals:
            await self.conn.execute(
                """UPDATE payment_runs r SET paid_count = u.c, paid_total = u.t, remaining = u.rem
                   FROM unnest($1::text[], $2::int[], $3::bigint[], $4::bigint[]) AS u(id, c, t, rem)
                   WHERE r.run_id = u.id""",
                [t.run_id for t in totals], [t.paid_count for t in totals], [t.paid_total for t in totals],
                [t.remaining for t in totals],
            )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Allocation:
    """Funds approved for one day's scheduled run."""

    allocation_id: str
    business_date: date
    amount: int
    allocated_by: str
    approved_by: str


class Allocations(Protocol):
    def add(self, allocation: Allocation) -> None: ...


class SqlAllocations:
    """`funds_allocations` in PostgreSQL (read by the scheduled run: `repository.day_funds`)."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.pending: list[Allocation] = []

    def add(self, allocation: Allocation) -> None:
        self.pending.append(allocation)

    async def flush(self) -> None:
        rows, self.pending = self.pending, []
        if not rows:
            return
        await self.conn.execute(
            """INSERT INTO funds_allocations (allocation_id, business_date, amount, allocated_by, approved_by)
               SELECT * FROM unnest($1::text[], $2::date[], $3::bigint[], $4::text[], $5::text[])
               ON CONFLICT (allocation_id) DO NOTHING""",
            [a.allocation_id for a in rows], [a.business_date for a in rows], [a.amount for a in rows],
            [a.allocated_by for a in rows], [a.approved_by for a in rows],
        )  # fmt: skip
