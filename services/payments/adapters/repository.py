"""The payments service's tables (asyncpg). Read-only views used by the CLI live here too."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from services.payments.domain.ledger import (
    RECEIVABLE_PREFIX,
    EntryKind,
    Posting,
    hospital_receivable,
    payable_postings,
    payment_postings,
)
from services.payments.domain.payment_run import OpenPayable, PlannedPayment
from shared.db import Conn


@dataclass(frozen=True, slots=True)
class NewPayable:
    claim_id: str
    verification_seq: int
    nomor_sep: str
    kode_rs: str
    amount: int
    verified_on: date
    due_on: date
    deemed_complete: bool
    correlation_id: uuid.UUID
    source_event_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class PayableRow:
    id: int
    claim_id: str
    verification_seq: int
    nomor_sep: str
    kode_rs: str
    amount: int
    verified_on: date
    due_on: date
    correlation_id: uuid.UUID
    source_event_id: uuid.UUID

    def as_open(self) -> OpenPayable:
        """The fields the run planner needs."""
        return OpenPayable(
            self.id, self.claim_id, self.verification_seq, self.amount, self.verified_on, self.due_on, self.kode_rs
        )


async def add_payable(conn: Conn, p: NewPayable) -> int | None:
    """Create the payable and its ledger entry; None when this verification already has one."""
    payable_id: int | None = await conn.fetchval(
        """INSERT INTO payables (claim_id, verification_seq, nomor_sep, kode_rs, amount, verified_on, due_on,
                                 deemed_complete, correlation_id, source_event_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (claim_id, verification_seq) DO NOTHING RETURNING id""",
        p.claim_id, p.verification_seq, p.nomor_sep, p.kode_rs, p.amount, p.verified_on, p.due_on,
        p.deemed_complete, p.correlation_id, p.source_event_id,
    )  # fmt: skip
    if payable_id is None:
        await _same_as_recorded(conn, p)
        return None
    for posting in payable_postings(p.kode_rs, p.amount):
        await book(
            conn, f"LE-{payable_id}-{posting.kind}", posting, p.verified_on, claim_id=p.claim_id, kode_rs=p.kode_rs,
            payable_id=payable_id, memo=f"verified claim {p.claim_id} seq {p.verification_seq}, due {p.due_on}",
        )  # fmt: skip
    return payable_id


async def main_due_on(conn: Conn, claim_id: str) -> date | None:
    """The due date of a claim's main verification (seq 0), if payments has it."""
    value: date | None = await conn.fetchval(
        "SELECT due_on FROM payables WHERE claim_id = $1 AND verification_seq = 0", claim_id
    )
    return value


async def backdate_supplementaries(conn: Conn, claim_id: str, original_due_on: date) -> int:
    """Give a claim's unpaid supplementary payables the original due date; how many moved.

    (One already paid before its main verification arrived keeps the penalty it was paid with.)
    """
    status: str = await conn.execute(
        """UPDATE payables SET due_on = $2
           WHERE claim_id = $1 AND verification_seq >= 1 AND payment_id IS NULL AND due_on > $2""",
        claim_id, original_due_on,
    )  # fmt: skip
    return int(status.split()[-1])


class ConflictingInput(ValueError):
    """The same key arrived again with different content; `field` names what differs."""

    def __init__(self, what: str, field: str, recorded: object, received: object) -> None:
        super().__init__(f"{what}: {field} is {received!r}, but {recorded!r} was recorded under the same key")
        self.field = field


async def _same_as_recorded(conn: Conn, p: NewPayable) -> None:
    """A redelivered verification is fine; one that changes the amount or dates is refused, not ignored."""
    row = await conn.fetchrow(
        "SELECT amount, verified_on, kode_rs FROM payables WHERE claim_id = $1 AND verification_seq = $2",
        p.claim_id, p.verification_seq,
    )  # fmt: skip
    assert row is not None
    for field, received in (("approved_amount", p.amount), ("verified_on", p.verified_on), ("kode_rs", p.kode_rs)):
        recorded = row["amount" if field == "approved_amount" else field]
        if recorded != received:
            raise ConflictingInput(f"claim {p.claim_id} verification {p.verification_seq}", field, recorded, received)


async def add_ledger_entry(
    conn: Conn,
    entry_id: str,
    kind: str,
    debit: str,
    credit: str,
    amount: int,
    booked_on: date,
    *,
    claim_id: str | None = None,
    kode_rs: str | None = None,
    payable_id: int | None = None,
    run_id: str | None = None,
    memo: str = "",
) -> str:
    """Append one double entry (the table refuses updates and deletes)."""
    await conn.execute(
        """INSERT INTO ledger_entries (entry_id, kind, debit_account, credit_account, amount, booked_on,
                                       claim_id, kode_rs, payable_id, run_id, memo)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)""",
        entry_id, kind, debit, credit, amount, booked_on, claim_id, kode_rs, payable_id, run_id, memo,
    )  # fmt: skip
    return entry_id


async def book(conn: Conn, entry_id: str, posting: Posting, booked_on: date, **fields: Any) -> str:
    """Append one posting made by the ledger domain (`services.payments.domain.ledger`)."""
    return await add_ledger_entry(
        conn, entry_id, posting.kind, posting.debit, posting.credit, posting.amount, booked_on, **fields
    )


_PAYABLE_COLUMNS = """p.id, p.claim_id, p.verification_seq, p.nomor_sep, p.kode_rs, p.amount, p.verified_on,
                      p.due_on, p.correlation_id, p.source_event_id"""


async def open_payables(conn: Conn, *, lock: bool = False) -> list[PayableRow]:
    """Payables without a payment, oldest due first."""
    rows = await conn.fetch(
        f"""SELECT {_PAYABLE_COLUMNS} FROM payables p WHERE p.payment_id IS NULL
            ORDER BY p.due_on, p.verified_on, p.id {"FOR NO KEY UPDATE OF p" if lock else ""}"""
    )
    return [PayableRow(**dict(r)) for r in rows]


async def start_run(conn: Conn, run_id: str, funds: int, run_on: date, requested_by: str, approved_by: str) -> bool:
    """Register the run under its idempotency key; False when that run id was already used."""
    inserted = await conn.fetchval(
        """INSERT INTO payment_runs (run_id, funds, run_on, requested_by, approved_by, paid_count, paid_total,
                                     remaining)
           VALUES ($1, $2, $3, $4, $5, 0, 0, $2) ON CONFLICT (run_id) DO NOTHING RETURNING true""",
        run_id, funds, run_on, requested_by, approved_by,
    )  # fmt: skip
    if not inserted:
        recorded = await conn.fetchval("SELECT funds FROM payment_runs WHERE run_id = $1", run_id)
        if recorded != funds:
            raise ConflictingInput(f"payment run {run_id}", "funds", recorded, funds)
    return bool(inserted)


async def record_payment(
    conn: Conn, run_id: str, payable: PayableRow, planned: PlannedPayment, paid_on: date, method: str
) -> tuple[str, list[str]]:
    """Insert the payment and its ledger entries; the unique payable_id forbids a second payment.

    The liability is settled by cash and, when the hospital owes money back, by the recovery netted
    from the receivable (its own entry, so the reconciliation can show both).
    """
    number = await conn.fetchval("SELECT nextval('payment_number')")
    payment_id = f"PAY-{number:09d}"
    await conn.execute(
        """INSERT INTO payments (payment_id, payable_id, run_id, paid_on, amount, penalty, total_paid, days_late,
                                 penalty_method, recovered)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)""",
        payment_id, payable.id, run_id, paid_on, payable.amount, planned.penalty, planned.total,
        planned.days_late, method, planned.recovered,
    )  # fmt: skip
    await conn.execute("UPDATE payables SET payment_id = $2 WHERE id = $1", payable.id, payment_id)
    common: dict[str, Any] = {"claim_id": payable.claim_id, "kode_rs": payable.kode_rs, "payable_id": payable.id}
    memos: dict[EntryKind, str] = {
        "payment": f"{payment_id} for {payable.claim_id}",
        "recovery": f"{payment_id}: VEDIKA recovery netted from {payable.claim_id}",
        "penalty": f"{planned.days_late} days late ({method})",
    }
    entries = []
    for posting in payment_postings(payable.kode_rs, payable.amount, planned.penalty, planned.recovered):
        entries.append(
            await book(conn, f"LE-{payment_id}-{posting.kind}", posting, paid_on, run_id=run_id,
                       memo=memos[posting.kind], **common)
        )  # fmt: skip
    return payment_id, entries


async def finish_run(conn: Conn, run_id: str, paid_count: int, paid_total: int, remaining: int) -> None:
    """Store the run's totals."""
    await conn.execute(
        "UPDATE payment_runs SET paid_count = $2, paid_total = $3, remaining = $4 WHERE run_id = $1",
        run_id, paid_count, paid_total, remaining,
    )  # fmt: skip


async def claim_notice(conn: Conn, payable_id: int, kind: str, as_of: date) -> bool:
    """True the first time a notice of `kind` for `as_of` is claimed for a payable (so it goes out once)."""
    inserted = await conn.fetchval(
        "INSERT INTO notices (payable_id, kind, as_of) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING true",
        payable_id, kind, as_of,
    )  # fmt: skip
    return bool(inserted)


async def has_notice(conn: Conn, payable_id: int, kind: str) -> bool:
    """Whether any notice of `kind` went out for the payable."""
    return bool(
        await conn.fetchval("SELECT true FROM notices WHERE payable_id = $1 AND kind = $2 LIMIT 1", payable_id, kind)
    )


async def run_summary(conn: Conn, run_id: str) -> dict[str, Any] | None:
    """A run's totals, or None if it has not been applied (yet)."""
    row = await conn.fetchrow("SELECT * FROM payment_runs WHERE run_id = $1", run_id)
    return dict(row) if row else None


async def account_balances(conn: Conn) -> dict[str, int]:
    """Debits minus credits per account; the ledger balances when they sum to zero."""
    rows = await conn.fetch(
        """SELECT account, sum(amount)::bigint AS balance FROM (
               SELECT debit_account AS account, amount FROM ledger_entries
               UNION ALL SELECT credit_account, -amount FROM ledger_entries) e
           GROUP BY account ORDER BY account"""
    )
    return {r["account"]: int(r["balance"]) for r in rows}


async def hospital_month(conn: Conn, kode_rs: str, first: date, last: date) -> list[dict[str, Any]]:
    """Every payable of a hospital verified in [first, last] or paid in it, with its payment if any."""
    rows = await conn.fetch(
        """SELECT p.claim_id, p.nomor_sep, p.verification_seq, p.amount, p.verified_on, p.due_on,
                  x.payment_id, x.paid_on, x.penalty, x.total_paid, x.days_late, x.penalty_method, x.run_id,
                  x.recovered
           FROM payables p LEFT JOIN payments x ON x.payable_id = p.id
           WHERE p.kode_rs = $1 AND (p.verified_on BETWEEN $2 AND $3 OR x.paid_on BETWEEN $2 AND $3)
           ORDER BY p.verified_on, p.claim_id, p.verification_seq""",
        kode_rs, first, last,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def outstanding_as_of(conn: Conn, kode_rs: str, as_of: date) -> int:
    """What the hospital was owed at the end of `as_of` (verified by then, not paid by then)."""
    value = await conn.fetchval(
        """SELECT coalesce(sum(p.amount), 0)::bigint FROM payables p
           LEFT JOIN payments x ON x.payable_id = p.id
           WHERE p.kode_rs = $1 AND p.verified_on <= $2 AND (x.paid_on IS NULL OR x.paid_on > $2)""",
        kode_rs, as_of,
    )  # fmt: skip
    return int(value)


async def paid_payable(conn: Conn, claim_id: str, verification_seq: int, *, lock: bool = False) -> PayableRow | None:
    """The payable of a claim's verification, if it has been paid (locked: its corrections are serialised)."""
    row = await conn.fetchrow(
        f"SELECT {_PAYABLE_COLUMNS} FROM payables p WHERE p.claim_id = $1 AND p.verification_seq = $2"
        f" AND p.payment_id IS NOT NULL {'FOR NO KEY UPDATE OF p' if lock else ''}",
        claim_id, verification_seq,
    )  # fmt: skip
    return PayableRow(**dict(row)) if row else None


async def corrected_so_far(conn: Conn, payable_id: int) -> int:
    """What VEDIKA corrections already recover from one paid payable, together."""
    value = await conn.fetchval(
        "SELECT coalesce(sum(amount), 0)::bigint FROM ledger_entries WHERE payable_id = $1 AND kind = 'adjustment'",
        payable_id,
    )  # fmt: skip
    return int(value)


async def receivables(conn: Conn) -> dict[str, int]:
    """kode_rs -> what each hospital still owes back (booked corrections less recoveries netted so far)."""
    rows = await conn.fetch(
        """SELECT account, sum(amount)::bigint AS balance FROM (
               SELECT debit_account AS account, amount FROM ledger_entries WHERE debit_account LIKE $1
               UNION ALL SELECT credit_account, -amount FROM ledger_entries WHERE credit_account LIKE $1) e
           GROUP BY account HAVING sum(amount) > 0""",
        RECEIVABLE_PREFIX + "%",
    )  # fmt: skip
    return {r["account"].removeprefix(RECEIVABLE_PREFIX): int(r["balance"]) for r in rows}


async def receivable_as_of(conn: Conn, kode_rs: str, as_of: date) -> int:
    """What the hospital owed back at the end of `as_of`."""
    account = hospital_receivable(kode_rs)
    value = await conn.fetchval(
        """SELECT coalesce(sum(CASE WHEN debit_account = $1 THEN amount ELSE -amount END), 0)::bigint
           FROM ledger_entries WHERE (debit_account = $1 OR credit_account = $1) AND booked_on <= $2""",
        account, as_of,
    )  # fmt: skip
    return int(value)


async def receivable_moves(conn: Conn, kode_rs: str, first: date, last: date) -> tuple[int, int]:
    """(corrections booked, recoveries netted) for a hospital's receivable in [first, last]."""
    account = hospital_receivable(kode_rs)
    row = await conn.fetchrow(
        """SELECT coalesce(sum(amount) FILTER (WHERE debit_account = $1), 0)::bigint AS booked,
                  coalesce(sum(amount) FILTER (WHERE credit_account = $1), 0)::bigint AS recovered
           FROM ledger_entries WHERE (debit_account = $1 OR credit_account = $1) AND booked_on BETWEEN $2 AND $3""",
        account, first, last,
    )  # fmt: skip
    assert row is not None
    return int(row["booked"]), int(row["recovered"])


async def ledger_entry_exists(conn: Conn, entry_id: str) -> bool:
    """Whether an entry id was already booked (corrections are idempotent by their id)."""
    return bool(await conn.fetchval("SELECT true FROM ledger_entries WHERE entry_id = $1", entry_id))


# ----------------------------------------------------------------------------- four eyes


@dataclass(frozen=True, slots=True)
class HeldCommand:
    subject_kind: str
    subject_id: str
    command: dict[str, Any]
    requested_by: str
    approved_by: str | None


async def hold_command(
    conn: Conn, kind: str, subject_id: str, command: dict[str, Any], requested_by: str,
    event_id: uuid.UUID, at: datetime,
) -> HeldCommand | None:  # fmt: skip
    """Hold a request for approval; None when held now, else the request already held under its id."""
    inserted = await conn.fetchval(
        """INSERT INTO held_commands (subject_kind, subject_id, command, requested_by, requested_event_id,
                                      requested_at)
           VALUES ($1, $2, $3::jsonb, $4, $5, $6) ON CONFLICT (subject_kind, subject_id) DO NOTHING RETURNING true""",
        kind, subject_id, json.dumps(command), requested_by, event_id, at,
    )  # fmt: skip
    return None if inserted else await held_command(conn, kind, subject_id)


async def held_command(conn: Conn, kind: str, subject_id: str, *, lock: bool = False) -> HeldCommand | None:
    """A held (or already approved) request."""
    row = await conn.fetchrow(
        f"""SELECT subject_kind, subject_id, command, requested_by, approved_by FROM held_commands
            WHERE subject_kind = $1 AND subject_id = $2 {"FOR UPDATE" if lock else ""}""",
        kind, subject_id,
    )  # fmt: skip
    if row is None:
        return None
    data = dict(row)
    if isinstance(data["command"], str):
        data["command"] = json.loads(data["command"])
    return HeldCommand(**data)


async def mark_approved(
    conn: Conn, kind: str, subject_id: str, approved_by: str, event_id: uuid.UUID, at: datetime
) -> None:
    """Record the second operator (the table's four_eyes constraint refuses the requester)."""
    await conn.execute(
        """UPDATE held_commands SET approved_by = $3, approved_event_id = $4, approved_at = $5
           WHERE subject_kind = $1 AND subject_id = $2""",
        kind, subject_id, approved_by, event_id, at,
    )  # fmt: skip


async def add_allocation(
    conn: Conn, allocation_id: str, business_date: date, amount: int, allocated_by: str, approved_by: str
) -> None:
    """An approved allocation of funds for one day's scheduled run."""
    await conn.execute(
        """INSERT INTO funds_allocations (allocation_id, business_date, amount, allocated_by, approved_by)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (allocation_id) DO NOTHING""",
        allocation_id, business_date, amount, allocated_by, approved_by,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class DayFunds:
    amount: int
    allocated_by: str
    approved_by: str


async def day_funds(conn: Conn, business_date: date) -> DayFunds | None:
    """The approved allocations for a day's scheduled run, summed; None when finance allocated nothing."""
    row = await conn.fetchrow(
        """SELECT count(*) AS n, coalesce(sum(amount), 0)::bigint AS amount,
                  string_agg(DISTINCT allocated_by, ',' ORDER BY allocated_by) AS allocated_by,
                  string_agg(DISTINCT approved_by, ',' ORDER BY approved_by) AS approved_by
           FROM funds_allocations WHERE business_date = $1""",
        business_date,
    )  # fmt: skip
    if row is None or row["n"] == 0:
        return None
    return DayFunds(int(row["amount"]), row["allocated_by"][:200], row["approved_by"][:200])


async def pending_approvals(conn: Conn) -> list[dict[str, Any]]:
    """Requests still waiting for their second operator, oldest first (`claimsctl payments held`)."""
    rows = await conn.fetch(
        """SELECT subject_kind, subject_id, requested_by, requested_at FROM held_commands
           WHERE approved_by IS NULL ORDER BY requested_at, subject_kind, subject_id"""
    )
    return [dict(r) for r in rows]
