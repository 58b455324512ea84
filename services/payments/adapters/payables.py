"""The payables aggregate: one payable per verification of a claim, paid at most once."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from services.payments.adapters.repository import PAYABLE_COLUMNS, PayableRow, Settle, open_payables
from shared.db import Conn

PayableKey = tuple[str, int]  # (claim_id, verification_seq)


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

    @property
    def key(self) -> PayableKey:
        return (self.claim_id, self.verification_seq)


@dataclass(frozen=True, slots=True)
class RecordedPayable:
    """What a replayed verification is compared with."""

    amount: int
    verified_on: date
    kode_rs: str


class Payables(Protocol):
    """The payables as the use cases see them (SqlPayables, or a fake in unit tests)."""

    async def main_due_dates(self, claim_ids: Collection[str]) -> dict[str, date]:
        """claim_id -> due date of its main verification (seq 0), for those payments has."""
        ...

    async def add(self, payables: Sequence[NewPayable], *, backdate: bool) -> dict[PayableKey, int]:
        """Create the payables whose key is new; key -> id of those created.

        `backdate`: a created main verification gives its claim's unpaid supplementaries recorded earlier
        its due date when theirs is later (they arrived before it and got their own).
        """
        ...

    async def recorded(self, keys: Collection[PayableKey]) -> dict[PayableKey, RecordedPayable]: ...
    async def open(self, *, lock: bool = False) -> list[PayableRow]: ...
    async def paid(self, claim_id: str, verification_seq: int, *, lock: bool = False) -> PayableRow | None: ...
    def mark_paid(self, payable_id: int, payment_id: str) -> None: ...


class SqlPayables:
    """`payables` in PostgreSQL: a batch of verifications read once and inserted with one statement."""

    def __init__(self, conn: Conn, settle: Settle) -> None:
        self.conn = conn
        self.settle = settle
        self.marks: list[tuple[int, str]] = []

    async def main_due_dates(self, claim_ids: Collection[str]) -> dict[str, date]:
        if not claim_ids:
            return {}
        await self.settle()
        rows = await self.conn.fetch(
            "SELECT claim_id, due_on FROM payables WHERE verification_seq = 0 AND claim_id = ANY($1::text[])",
            sorted(claim_ids),
        )
        return {r["claim_id"]: r["due_on"] for r in rows}

    async def add(self, payables: Sequence[NewPayable], *, backdate: bool) -> dict[PayableKey, int]:
        if not payables:
            return {}
        await self.settle()  # a payment earlier in the batch keeps its supplementary from being backdated
        # One statement: the inserts in batch order (ids keep the arrival order the run planner breaks ties
        # with) and the backdating, which sees only rows recorded before it, as the supplementaries it moves are.
        rows = await self.conn.fetch(
            """WITH new AS (
                   INSERT INTO payables (claim_id, verification_seq, nomor_sep, kode_rs, amount, verified_on, due_on,
                                         deemed_complete, correlation_id, source_event_id)
                   SELECT c, s, sep, rs, a, v, d, dc, corr, src
                   FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::bigint[], $6::date[], $7::date[],
                               $8::boolean[], $9::uuid[], $10::uuid[])
                        WITH ORDINALITY AS u(c, s, sep, rs, a, v, d, dc, corr, src, n)
                   ORDER BY n
                   ON CONFLICT (claim_id, verification_seq) DO NOTHING
                   RETURNING id, claim_id, verification_seq, due_on
               ), moved AS (
                   UPDATE payables p SET due_on = new.due_on FROM new
                   WHERE $11 AND new.verification_seq = 0 AND p.claim_id = new.claim_id AND p.verification_seq >= 1
                     AND p.payment_id IS NULL AND p.due_on > new.due_on
               )
               SELECT id, claim_id, verification_seq FROM new""",
            [p.claim_id for p in payables], [p.verification_seq for p in payables], [p.nomor_sep for p in payables],
            [p.kode_rs for p in payables], [p.amount for p in payables], [p.verified_on for p in payables],
            [p.due_on for p in payables], [p.deemed_complete for p in payables],
            [p.correlation_id for p in payables], [p.source_event_id for p in payables], backdate,
        )  # fmt: skip
        return {(r["claim_id"], r["verification_seq"]): r["id"] for r in rows}

    async def recorded(self, keys: Collection[PayableKey]) -> dict[PayableKey, RecordedPayable]:
        if not keys:
            return {}
        await self.settle()
        wanted = sorted(set(keys))
        rows = await self.conn.fetch(
            """SELECT p.claim_id, p.verification_seq, p.amount, p.verified_on, p.kode_rs
               FROM unnest($1::text[], $2::int[]) AS k(claim_id, verification_seq)
               JOIN payables p USING (claim_id, verification_seq)""",
            [k[0] for k in wanted], [k[1] for k in wanted],
        )  # fmt: skip
        return {
            (r["claim_id"], r["verification_seq"]): RecordedPayable(r["amount"], r["verified_on"], r["kode_rs"])
            for r in rows
        }

    async def open(self, *, lock: bool = False) -> list[PayableRow]:
        """Payables without a payment, oldest due first (locked: a payment run's)."""
        await self.settle()
        return await open_payables(self.conn, lock=lock)

    async def paid(self, claim_id: str, verification_seq: int, *, lock: bool = False) -> PayableRow | None:
        """The payable of a claim's verification, if it has been paid (locked: its corrections are serialised)."""
        await self.settle()
        row = await self.conn.fetchrow(
            f"SELECT {PAYABLE_COLUMNS} FROM payables p WHERE p.claim_id = $1 AND p.verification_seq = $2"
            f" AND p.payment_id IS NOT NULL {'FOR NO KEY UPDATE OF p' if lock else ''}",
            claim_id, verification_seq,
        )  # fmt: skip
        return PayableRow(**dict(row)) if row else None

    def mark_paid(self, payable_id: int, payment_id: str) -> None:
        self.marks.append((payable_id, payment_id))

    async def flush(self) -> None:
        marks, self.marks = self.marks, []
        if not marks:
            return
        await self.conn.execute(
            """UPDATE payables p SET payment_id = u.payment_id
               FROM unnest($1::bigint[], $2::text[]) AS u(id, payment_id) WHERE p.id = u.id""",
            [m[0] for m in marks], [m[1] for m in marks],
        )  # fmt: skip
