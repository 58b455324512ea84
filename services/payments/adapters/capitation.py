"""The capitation aggregate: one capitation per FKTP per month, a run applied once."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Protocol

from services.payments.adapters.repository import Settle
from shared.db import Conn


@dataclass(frozen=True, slots=True)
class CapitationPayment:
    run_id: str
    month: str
    kode_faskes: str
    amount: int
    detail: dict[str, Any]


class CapitationRuns(Protocol):
    """Capitation runs as the use cases see them (SqlCapitation, or a fake in unit tests)."""

    async def start(
        self, run_id: str, month: str, facilities: int, total: int, requested_by: str, approved_by: str
    ) -> bool:
        """Register the run; False when its run id was applied before."""
        ...

    async def paid_in(self, month: str, kode_faskes: Collection[str]) -> dict[str, str]:
        """kode_faskes -> the run that already paid its capitation for `month`, for those paid."""
        ...

    def add_payment(self, payment: CapitationPayment) -> None: ...


class SqlCapitation:
    """`capitation_runs` and `capitation_payments` in PostgreSQL: a run's lines read and written at once."""

    def __init__(self, conn: Conn, settle: Settle) -> None:
        self.conn = conn
        self.settle = settle
        self.pending: list[CapitationPayment] = []

    async def start(
        self, run_id: str, month: str, facilities: int, total: int, requested_by: str, approved_by: str
    ) -> bool:
        await self.settle()
        inserted = await self.conn.fetchval(
            """INSERT INTO capitation_runs (run_id, month, facilities, total, requested_by, approved_by)
               VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (run_id) DO NOTHING RETURNING true""",
            run_id, month, facilities, total, requested_by, approved_by,
        )  # fmt: skip
        return bool(inserted)

    async def paid_in(self, month: str, kode_faskes: Collection[str]) -> dict[str, str]:
        if not kode_faskes:
            return {}
        await self.settle()
        rows = await self.conn.fetch(
            "SELECT kode_faskes, run_id FROM capitation_payments WHERE month = $1 AND kode_faskes = ANY($2::text[])",
            month, sorted(kode_faskes),
        )  # fmt: skip
        return {r["kode_faskes"]: r["run_id"] for r in rows}

    def add_payment(self, payment: CapitationPayment) -> None:
        self.pending.append(payment)

    async def flush(self) -> None:
        rows, self.pending = self.pending, []
        if not rows:
            return
        await self.conn.execute(
            """INSERT INTO capitation_payments (run_id, month, kode_faskes, amount, detail)
               SELECT r, m, k, a, d::jsonb FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[])
                    AS u(r, m, k, a, d)""",
            [p.run_id for p in rows], [p.month for p in rows], [p.kode_faskes for p in rows],
            [p.amount for p in rows], [json.dumps(p.detail) for p in rows],
        )  # fmt: skip
