"""The payments service's row types and its read-only views (the CLI's reports, the monitor's scan).

What the use cases write goes through the repositories of the unit of work (`unit_of_work.py`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg

from services.payments.domain.ledger import hospital_receivable
from services.payments.domain.payment_run import OpenPayable
from shared.db import Conn


class ConflictingInput(ValueError):
    """The same key arrived again with different content; `field` names what differs."""

    def __init__(self, what: str, field: str, recorded: object, received: object) -> None:
        super().__init__(f"{what}: {field} is {received!r}, but {recorded!r} was recorded under the same key")
        self.field = field


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


PAYABLE_COLUMNS = """p.id, p.claim_id, p.verification_seq, p.nomor_sep, p.kode_rs, p.amount, p.verified_on,
                      p.due_on, p.correlation_id, p.source_event_id"""


async def open_payables(conn: Conn, *, lock: bool = False) -> list[PayableRow]:
    """Payables without a payment, oldest due first."""
    rows = await conn.fetch(
        f"""SELECT {PAYABLE_COLUMNS} FROM payables p WHERE p.payment_id IS NULL
            ORDER BY p.due_on, p.verified_on, p.id {"FOR NO KEY UPDATE OF p" if lock else ""}"""
    )
    return [PayableRow(**dict(r)) for r in rows]


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


# ----------------------------------------------------------------------------- four eyes


@dataclass(frozen=True, slots=True)
class HeldCommand:
    subject_kind: str
    subject_id: str
    command: dict[str, Any]
    requested_by: str
    approved_by: str | None


async def held_command(conn: Conn, kind: str, subject_id: str, *, lock: bool = False) -> HeldCommand | None:
    """A held (or already approved) request."""
    row = await conn.fetchrow(
        f"""SELECT subject_kind, subject_id, command, requested_by, approved_by FROM held_commands
            WHERE subject_kind = $1 AND subject_id = $2 {"FOR UPDATE" if lock else ""}""",
        kind, subject_id,
    )  # fmt: skip
    return None if row is None else held_row(row)


def held_row(row: asyncpg.Record) -> HeldCommand:
    """A held_commands row (its jsonb command decoded)."""
    data = dict(row)
    if isinstance(data["command"], str):
        data["command"] = json.loads(data["command"])
    return HeldCommand(**data)


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


# A repository's reads first write what its unit of work still holds (the unit of work's `flush`), so a later
# run of a batch (a payment run after a run of verified claims, say) sees what an earlier run wrote.
Settle = Callable[[], Awaitable[None]]
