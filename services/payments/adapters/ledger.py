"""The ledger aggregate: an append-only double entry, written once per unit of work in one statement."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol

from services.payments.adapters.repository import Settle
from services.payments.domain.ledger import RECEIVABLE_PREFIX, Posting
from shared.db import Conn


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One posting of the ledger domain, booked under its idempotent id."""

    entry_id: str
    posting: Posting
    booked_on: date
    claim_id: str | None = None
    kode_rs: str | None = None
    payable_id: int | None = None
    run_id: str | None = None
    memo: str = ""


class Ledger(Protocol):
    """The ledger as the use cases see it (SqlLedger, or a fake in unit tests)."""

    def book(self, entry: LedgerEntry) -> str:
        """Append the entry (written at flush); its id."""
        ...

    async def exists(self, entry_id: str) -> bool: ...

    async def corrected_so_far(self, payable_id: int) -> int:
        """What VEDIKA corrections already recover from one paid payable, together."""
        ...

    async def receivables(self) -> dict[str, int]:
        """kode_rs -> what each hospital still owes back (booked corrections less recoveries netted so far)."""
        ...


_RECEIVABLES = RECEIVABLE_PREFIX + "%"
assert _RECEIVABLES == "asset:receivable:%", "migration 0005's index predicate names this pattern"


class SqlLedger:
    """`ledger_entries` in PostgreSQL (the table refuses updates and deletes)."""

    def __init__(self, conn: Conn, settle: Settle) -> None:
        self.conn = conn
        self.settle = settle
        self.pending: list[LedgerEntry] = []

    def book(self, entry: LedgerEntry) -> str:
        self.pending.append(entry)
        return entry.entry_id

    async def exists(self, entry_id: str) -> bool:
        await self.settle()
        return bool(await self.conn.fetchval("SELECT true FROM ledger_entries WHERE entry_id = $1", entry_id))

    async def corrected_so_far(self, payable_id: int) -> int:
        await self.settle()
        value = await self.conn.fetchval(
            "SELECT coalesce(sum(amount), 0)::bigint FROM ledger_entries WHERE payable_id = $1 AND kind = 'adjustment'",
            payable_id,
        )  # fmt: skip
        return int(value)

    async def receivables(self) -> dict[str, int]:
        await self.settle()
        # The pattern is a literal, not a parameter, so the planner can use the partial indexes of
        # migration 0005 (their predicate must match the query's text).
        rows = await self.conn.fetch(
            f"""SELECT account, sum(amount)::bigint AS balance FROM (
                   SELECT debit_account AS account, amount FROM ledger_entries WHERE debit_account LIKE '{_RECEIVABLES}'
                   UNION ALL
                   SELECT credit_account, -amount FROM ledger_entries WHERE credit_account LIKE '{_RECEIVABLES}') e
               GROUP BY account HAVING sum(amount) > 0"""
        )
        return {r["account"].removeprefix(RECEIVABLE_PREFIX): int(r["balance"]) for r in rows}

    async def flush(self) -> None:
        rows, self.pending = self.pending, []
        if not rows:
            return
        await self.conn.execute(
            """INSERT INTO ledger_entries (entry_id, kind, debit_account, credit_account, amount, booked_on,
                                           claim_id, kode_rs, payable_id, run_id, memo)
               SELECT e, k, d, c, a, b, cl, rs, p, r, m
               FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::date[], $7::text[],
                           $8::text[], $9::bigint[], $10::text[], $11::text[])
                    WITH ORDINALITY AS u(e, k, d, c, a, b, cl, rs, p, r, m, n)
               ORDER BY n""",
            [x.entry_id for x in rows], [x.posting.kind for x in rows], [x.posting.debit for x in rows],
            [x.posting.credit for x in rows], [x.posting.amount for x in rows], [x.booked_on for x in rows],
            [x.claim_id for x in rows], [x.kode_rs for x in rows], [x.payable_id for x in rows],
            [x.run_id for x in rows], [x.memo for x in rows],
        )  # fmt: skip
