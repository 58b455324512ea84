"""The verifier's unit of work: the batch's transaction and the repositories it owns."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from services.verifier.adapters import repository as repo
from services.verifier.adapters.claims import SqlClaims
from shared.application import UnitOfWork
from shared.db import Conn
from shared.events import ParticipantChanged
from shared.outbox import Tx


class SqlHistory:
    """The claims' audit trail: lines queued in order, written with the batch in one statement."""

    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    def append(
        self, claim_id: str, at: datetime, kind: str, detail: dict[str, Any], *,
        event_type: str | None = None, event_id: uuid.UUID | None = None,
    ) -> None:  # fmt: skip
        repo.record(self.tx, claim_id, at, kind, detail, event_type=event_type, event_id=event_id)


class SqlParticipants:
    """The membership projection: a run of changes written at once, so a later run of the batch sees them."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def add(self, events: Sequence[ParticipantChanged]) -> None:
        rows = [(e.event_id, e.payload) for e in events]
        await self.conn.execute(
            """INSERT INTO participants (nomor_kartu, valid_from, nik, status, status_reason, kelas_hak, member_type,
                                         valid_to, event_id, member_category)
               SELECT k, vf, nik, st, sr, kh, mt, vt, e, mc
               FROM unnest($1::text[], $2::date[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[],
                           $8::date[], $9::uuid[], $10::text[])
                    WITH ORDINALITY AS u(k, vf, nik, st, sr, kh, mt, vt, e, mc, n)
               ORDER BY n
               ON CONFLICT (event_id) DO NOTHING""",
            [p.nomor_kartu for _, p in rows], [p.valid_from for _, p in rows], [p.nik for _, p in rows],
            [p.status for _, p in rows], [p.status_reason for _, p in rows], [p.kelas_hak for _, p in rows],
            [p.member_type for _, p in rows], [p.valid_to for _, p in rows], [e for e, _ in rows],
            [p.member_category for _, p in rows],
        )  # fmt: skip


class VerifierUnitOfWork(UnitOfWork):
    def __init__(self, tx: Tx) -> None:
        super().__init__(tx)
        self.claims = SqlClaims(tx.conn)
        self.history = SqlHistory(tx)
        self.participants = SqlParticipants(tx.conn)

    async def flush(self) -> None:
        await self.claims.flush()
