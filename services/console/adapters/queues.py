"""The queues, read from the owning services' own tables through their repositories (as claimsctl does).

The console never writes the verifier's or the payments service's tables: it reads them on pools bound
to their schemas (CONSOLE_VERIFIER_SCHEMA, CONSOLE_PAYMENTS_SCHEMA), with the functions `claimsctl review
list`, `claim show`, `payments held` and `payments approve` use (services/verifier/adapters/repository.py,
services/payments/adapters/repository.py). What those repositories have no query for (the CMG and the
version of a held claim, the open disputes with the hospital's reason, recent runs) is read here, on the
same tables, in the few columns the pages need.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.payments.adapters import repository as payments_repo
from services.verifier.adapters import repository as verifier_repo
from shared import db
from shared.db import Pool


@dataclass(frozen=True)
class ClaimHeader:
    claim_id: str
    state: str
    nomor_sep: str
    kode_rs: str
    cmg: str | None
    claimed_amount: int
    submitted_on: str | None
    review_reasons: list[dict[str, Any]]
    updated_at: datetime
    cbg_code: str | None = None  # the INA-CBG code of the current revision's ClaimGrouped

    @property
    def version(self) -> str:
        """What the page carries in a hidden field: the claim moved on when this differs at the post."""
        return f"{self.state}@{self.updated_at.isoformat()}"


class Readers:
    """Pools on the verifier's and the payments service's schemas, opened on first use."""

    def __init__(self, dsn: str, verifier_schema: str, payments_schema: str) -> None:
        self.dsn = dsn
        self.schemas = {"verifier": verifier_schema, "payments": payments_schema}
        self._pools: dict[str, Pool] = {}
        self._lock = asyncio.Lock()

    async def pool(self, owner: str) -> Pool:
        async with self._lock:
            if owner not in self._pools:
                self._pools[owner] = await db.create_pool(self.dsn, self.schemas[owner], min_size=1, max_size=3)
            return self._pools[owner]

    async def close(self) -> None:
        for pool in self._pools.values():
            await pool.close()
        self._pools.clear()

    # ------------------------------------------------------------------------------------------ verifier

    async def review_queue(self) -> list[dict[str, Any]]:
        """`claimsctl review list`'s rows, each with its CMG and INA-CBG code."""
        async with (await self.pool("verifier")).acquire() as conn:
            rows = await verifier_repo.review_queue(conn)
            # The INA-CBG code the grouper gave the current revision (its ClaimGrouped in the timeline).
            extra = await conn.fetch(
                """SELECT c.claim_id, c.cmg, h.detail->'grouping'->>'cbg_code' AS cbg_code
                   FROM claims c
                   LEFT JOIN LATERAL (SELECT detail FROM claim_history
                                      WHERE claim_id = c.claim_id AND event_type = 'ClaimGrouped'
                                      ORDER BY id DESC LIMIT 1) h ON true
                   WHERE c.claim_id = ANY($1::text[])""",
                [r["claim_id"] for r in rows],
            )
        found = {r["claim_id"]: (r["cmg"], r["cbg_code"]) for r in extra}
        out = []
        for r in rows:
            cmg, cbg_code = found.get(r["claim_id"], (None, None))
            out.append({**r, "cmg": cmg, "cbg_code": cbg_code})
        return out

    async def claim(self, claim_id: str) -> tuple[ClaimHeader | None, list[dict[str, Any]]]:
        """The claim as the verifier holds it, and its whole timeline (`claimsctl claim show`)."""
        async with (await self.pool("verifier")).acquire() as conn:
            row = await conn.fetchrow(
                """SELECT claim_id, state, nomor_sep, kode_rs, cmg,
                          (status->>'claimed_amount')::bigint AS claimed_amount,
                          status->>'submitted_on' AS submitted_on, review_reasons, updated_at
                   FROM claims WHERE claim_id = $1""",
                claim_id,
            )
            history = await verifier_repo.timeline(conn, claim_id)
        if row is None:
            return None, history
        data = dict(row)
        data["review_reasons"] = json.loads(data["review_reasons"] or "[]")
        data["claimed_amount"] = int(data["claimed_amount"] or 0)
        grouped = [h["detail"] for h in history if h["event_type"] == "ClaimGrouped" and isinstance(h["detail"], dict)]
        data["cbg_code"] = (grouped[-1].get("grouping") or {}).get("cbg_code") if grouped else None
        return ClaimHeader(**data), history

    async def claim_state(self, claim_id: str) -> str | None:
        async with (await self.pool("verifier")).acquire() as conn:
            return await verifier_repo.state_of(conn, claim_id)

    async def open_disputes(self) -> list[dict[str, Any]]:
        """Claims the hospitals disputed and the panel has not ruled on, oldest first, with what they asked."""
        async with (await self.pool("verifier")).acquire() as conn:
            rows = await conn.fetch(
                """SELECT c.claim_id, c.nomor_sep, c.kode_rs, c.cmg, c.updated_at,
                          (c.status->>'claimed_amount')::bigint AS claimed_amount,
                          (c.status->>'approved_amount')::bigint AS approved_amount,
                          (c.status->>'requested_amount')::bigint AS requested_amount,
                          h.detail->>'reason' AS reason, h.detail->>'disputed_on' AS disputed_on
                   FROM claims c
                   LEFT JOIN LATERAL (SELECT detail FROM claim_history
                                      WHERE claim_id = c.claim_id AND event_type = 'ClaimDisputed'
                                      ORDER BY id DESC LIMIT 1) h ON true
                   WHERE c.state = 'disputed' ORDER BY c.updated_at, c.claim_id"""
            )
        return [dict(r) for r in rows]

    async def effect_of(self, claim_id: str, event_id: str) -> str | None:
        """The claim's state once the verifier applied the command `event_id` (None: not applied yet)."""
        async with (await self.pool("verifier")).acquire() as conn:
            applied = await conn.fetchval(
                "SELECT true FROM claim_history WHERE claim_id = $1 AND event_id = $2::uuid LIMIT 1",
                claim_id, event_id,
            )  # fmt: skip
            return await verifier_repo.state_of(conn, claim_id) if applied else None

    # ------------------------------------------------------------------------------------------ payments

    async def pending_approvals(self) -> list[dict[str, Any]]:
        """`claimsctl payments held`."""
        async with (await self.pool("payments")).acquire() as conn:
            return await payments_repo.pending_approvals(conn)

    async def held(self, kind: str, subject_id: str) -> payments_repo.HeldCommand | None:
        """The held (or approved) request `claimsctl payments approve` reads."""
        async with (await self.pool("payments")).acquire() as conn:
            return await payments_repo.held_command(conn, kind, subject_id)

    async def run_summary(self, run_id: str) -> dict[str, Any] | None:
        async with (await self.pool("payments")).acquire() as conn:
            return await payments_repo.run_summary(conn, run_id)

    async def recent_runs(self, limit: int = 10) -> list[dict[str, Any]]:
        async with (await self.pool("payments")).acquire() as conn:
            rows = await conn.fetch(
                """SELECT run_id, funds, run_on, requested_by, paid_count, paid_total, remaining, created_at
                   FROM payment_runs ORDER BY created_at DESC, run_id LIMIT $1""",
                limit,
            )
        return [dict(r) for r in rows]
