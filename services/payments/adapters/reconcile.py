"""Reconciliation's tables and reads: the payments the database holds, how far claims.paid was read, restores."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from services.payments.adapters.payables import PayableKey
from services.payments.adapters.repository import PAYABLE_COLUMNS, PayableRow, Settle
from shared.db import Conn


@dataclass(frozen=True, slots=True)
class PayableState:
    """A payable as the database holds it, with the payment it is marked paid by (None: open)."""

    row: PayableRow
    payment_id: str | None


class ReconcileStore(Protocol):
    """The reads reconciliation needs beyond the unit of work's repositories (SqlReconcileStore, or a fake)."""

    async def known_payments(self, payment_ids: Collection[str]) -> set[str]:
        """Those of `payment_ids` the database holds."""
        ...

    async def payables(self, keys: Collection[PayableKey]) -> dict[PayableKey, PayableState]:
        """The payables of `keys` the database holds (locked), paid or not."""
        ...

    async def known_runs(self, run_ids: Collection[str]) -> set[str]: ...

    async def advance_payment_numbers(self, at_least: int) -> None:
        """The next payment number drawn is above `at_least`."""
        ...

    async def capitation_paid(self, keys: Collection[tuple[str, str]]) -> set[tuple[str, str]]:
        """Those (month, kode_faskes) of `keys` whose capitation the database holds."""
        ...

    async def known_capitation_runs(self, run_ids: Collection[str]) -> set[str]: ...


class SqlReconcileStore:
    """The reads of `application/reconcile.py`, on the unit of work's connection (one statement each)."""

    def __init__(self, conn: Conn, settle: Settle) -> None:
        self.conn = conn
        self.settle = settle

    async def known_payments(self, payment_ids: Collection[str]) -> set[str]:
        if not payment_ids:
            return set()
        await self.settle()
        rows = await self.conn.fetch(
            "SELECT payment_id FROM payments WHERE payment_id = ANY($1::text[])", sorted(payment_ids)
        )
        return {r["payment_id"] for r in rows}

    async def payables(self, keys: Collection[PayableKey]) -> dict[PayableKey, PayableState]:
        if not keys:
            return {}
        await self.settle()
        wanted = sorted(set(keys))
        rows = await self.conn.fetch(
            f"""SELECT {PAYABLE_COLUMNS}, p.payment_id FROM unnest($1::text[], $2::int[]) AS k(claim_id, seq)
                JOIN payables p ON p.claim_id = k.claim_id AND p.verification_seq = k.seq
                ORDER BY p.id FOR NO KEY UPDATE OF p""",
            [k[0] for k in wanted], [k[1] for k in wanted],
        )  # fmt: skip
        found: dict[PayableKey, PayableState] = {}
        for r in rows:
            data = dict(r)
            payment_id = data.pop("payment_id")
            row = PayableRow(**data)
            found[(row.claim_id, row.verification_seq)] = PayableState(row, payment_id)
        return found

    async def known_runs(self, run_ids: Collection[str]) -> set[str]:
        if not run_ids:
            return set()
        await self.settle()
        rows = await self.conn.fetch("SELECT run_id FROM payment_runs WHERE run_id = ANY($1::text[])", sorted(run_ids))
        return {r["run_id"] for r in rows}

    async def advance_payment_numbers(self, at_least: int) -> None:
        # Never backwards: a database ahead of the topic (events not yet relayed) keeps its numbers.
        await self.conn.execute(
            """SELECT setval('payment_number', $1)
               WHERE $1 > (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM payment_number)""",
            at_least,
        )

    async def capitation_paid(self, keys: Collection[tuple[str, str]]) -> set[tuple[str, str]]:
        if not keys:
            return set()
        await self.settle()
        wanted = sorted(set(keys))
        rows = await self.conn.fetch(
            """SELECT c.month, c.kode_faskes FROM unnest($1::text[], $2::text[]) AS k(month, kode_faskes)
               JOIN capitation_payments c USING (month, kode_faskes)""",
            [k[0] for k in wanted], [k[1] for k in wanted],
        )  # fmt: skip
        return {(r["month"], r["kode_faskes"]) for r in rows}

    async def known_capitation_runs(self, run_ids: Collection[str]) -> set[str]:
        if not run_ids:
            return set()
        await self.settle()
        rows = await self.conn.fetch(
            "SELECT run_id FROM capitation_runs WHERE run_id = ANY($1::text[])", sorted(run_ids)
        )
        return {r["run_id"] for r in rows}


# ----------------------------------------------------------------------------- offsets and restore markers


@dataclass(frozen=True, slots=True)
class Restore:
    id: int
    backup_taken_at: datetime | None
    restored_at: datetime


async def pending_restores(conn: Conn) -> list[Restore]:
    """Restores (`claimsctl restore`) not reconciled yet, oldest first."""
    rows = await conn.fetch(
        "SELECT id, backup_taken_at, restored_at FROM restores WHERE reconciled_at IS NULL ORDER BY id"
    )
    return [Restore(r["id"], r["backup_taken_at"], r["restored_at"]) for r in rows]


async def finish_restores(conn: Conn, ids: Collection[int], rebuilt: int) -> None:
    if ids:
        await conn.execute(
            "UPDATE restores SET reconciled_at = now(), payments_rebuilt = $2 WHERE id = ANY($1::bigint[])",
            sorted(ids), rebuilt,
        )  # fmt: skip


async def reconciled_offsets(conn: Conn, topic: str) -> dict[int, int]:
    """partition -> the first offset of `topic` not yet reconciled."""
    rows = await conn.fetch("SELECT partition, next_offset FROM reconciled_offsets WHERE topic = $1", topic)
    return {r["partition"]: r["next_offset"] for r in rows}


async def save_offsets(conn: Conn, topic: str, offsets: Mapping[int, int]) -> None:
    if not offsets:
        return
    parts = sorted(offsets)
    await conn.execute(
        """INSERT INTO reconciled_offsets (topic, partition, next_offset)
           SELECT $1, p, o FROM unnest($2::int[], $3::bigint[]) AS u(p, o)
           ON CONFLICT (topic, partition) DO UPDATE SET next_offset = excluded.next_offset""",
        topic, parts, [offsets[p] for p in parts],
    )  # fmt: skip
