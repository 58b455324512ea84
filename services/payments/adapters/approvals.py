"""The held commands aggregate (four eyes): a money command waits here for a second operator's approval."""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from services.payments.adapters.repository import HeldCommand, Settle, held_row
from shared.db import Conn

Subject = tuple[str, str]  # (subject_kind, subject_id)


@dataclass(frozen=True, slots=True)
class HoldRequest:
    subject_kind: str
    subject_id: str
    command: dict[str, Any]  # the request as received (signature included), applied on approval
    requested_by: str
    event_id: uuid.UUID
    requested_at: datetime

    @property
    def subject(self) -> Subject:
        return (self.subject_kind, self.subject_id)


@dataclass(frozen=True, slots=True)
class Approval:
    subject: Subject
    approved_by: str
    event_id: uuid.UUID
    approved_at: datetime


class HeldCommands(Protocol):
    """Held commands as the use cases see them (SqlHeldCommands, or a fake in unit tests)."""

    async def hold(self, requests: Sequence[HoldRequest]) -> dict[Subject, HeldCommand]:
        """Hold each request whose subject is new; the requests already held under the others' subjects."""
        ...

    async def lock(self, subjects: Collection[Subject]) -> dict[Subject, HeldCommand]:
        """The held (or already approved) requests of `subjects`, locked in one order."""
        ...

    def approve(self, approval: Approval) -> None:
        """Record the second operator (the table's four_eyes constraint refuses the requester)."""
        ...


_COLUMNS = "h.subject_kind, h.subject_id, h.command, h.requested_by, h.approved_by"


class SqlHeldCommands:
    """`held_commands` in PostgreSQL: a batch of requests held with one insert, its approvals locked at once."""

    def __init__(self, conn: Conn, settle: Settle) -> None:
        self.conn = conn
        self.settle = settle
        self.approvals: list[Approval] = []

    async def hold(self, requests: Sequence[HoldRequest]) -> dict[Subject, HeldCommand]:
        if not requests:
            return {}
        await self.settle()
        inserted = await self.conn.fetch(
            """INSERT INTO held_commands (subject_kind, subject_id, command, requested_by, requested_event_id,
                                          requested_at)
               SELECT k, i, c::jsonb, b, e, a
               FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::uuid[], $6::timestamptz[])
                    AS u(k, i, c, b, e, a)
               ON CONFLICT (subject_kind, subject_id) DO NOTHING RETURNING subject_kind, subject_id""",
            [r.subject_kind for r in requests], [r.subject_id for r in requests],
            [json.dumps(r.command) for r in requests], [r.requested_by for r in requests],
            [r.event_id for r in requests], [r.requested_at for r in requests],
        )  # fmt: skip
        held_now = {(r["subject_kind"], r["subject_id"]) for r in inserted}
        earlier = [r.subject for r in requests if r.subject not in held_now]
        return await self._read(earlier, lock=False) if earlier else {}

    async def lock(self, subjects: Collection[Subject]) -> dict[Subject, HeldCommand]:
        if not subjects:
            return {}
        await self.settle()
        return await self._read(subjects, lock=True)

    async def _read(self, subjects: Collection[Subject], *, lock: bool) -> dict[Subject, HeldCommand]:
        wanted = sorted(set(subjects))
        rows = await self.conn.fetch(
            f"""SELECT {_COLUMNS} FROM unnest($1::text[], $2::text[]) AS k(kind, id)
                JOIN held_commands h ON h.subject_kind = k.kind AND h.subject_id = k.id
                ORDER BY h.subject_kind, h.subject_id {"FOR UPDATE OF h" if lock else ""}""",
            [s[0] for s in wanted], [s[1] for s in wanted],
        )  # fmt: skip
        return {(r["subject_kind"], r["subject_id"]): held_row(r) for r in rows}

    def approve(self, approval: Approval) -> None:
        self.approvals.append(approval)

    async def flush(self) -> None:
        rows, self.approvals = self.approvals, []
        if not rows:
            return
        await self.conn.execute(
            """UPDATE held_commands h SET approved_by = u.b, approved_event_id = u.e, approved_at = u.a
               FROM unnest($1::text[], $2::text[], $3::text[], $4::uuid[], $5::timestamptz[]) AS u(k, i, b, e, a)
               WHERE h.subject_kind = u.k AND h.subject_id = u.i""",
            [r.subject[0] for r in rows], [r.subject[1] for r in rows], [r.approved_by for r in rows],
            [r.event_id for r in rows], [r.approved_at for r in rows],
        )  # fmt: skip
