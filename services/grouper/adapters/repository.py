"""The grouper's one aggregate: the answer given to each (claim, revision), so a resent revision is answered once."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from shared.db import Conn

Revision = tuple[str, int]  # (claim_id, revision)


@dataclass(frozen=True, slots=True)
class Answer:
    """What the grouper answered for one revision."""

    claim_id: str
    revision: int
    content_hash: str
    outcome: str  # grouped | rejected
    cbg_code: str | None
    total_tarif: int | None
    reason_codes: list[str]
    tariff_table_version: str | None
    event_id: uuid.UUID


class Answers(Protocol):
    """The repository the use cases see (a fake in unit tests, PostgreSQL in the service)."""

    async def hashes(self, keys: Iterable[Revision]) -> dict[Revision, str]: ...
    def add(self, answer: Answer) -> None: ...


class SqlAnswers:
    """`groupings` in PostgreSQL: one read per batch, one multi-row insert per batch."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.pending: list[Answer] = []

    async def hashes(self, keys: Iterable[Revision]) -> dict[Revision, str]:
        """The content hash of every revision of `keys` already answered."""
        wanted = sorted(set(keys))
        if not wanted:
            return {}
        rows = await self.conn.fetch(
            """SELECT g.claim_id, g.revision, g.content_hash
               FROM unnest($1::text[], $2::int[]) AS k(claim_id, revision)
               JOIN groupings g USING (claim_id, revision)""",
            [k[0] for k in wanted], [k[1] for k in wanted],
        )  # fmt: skip
        return {(r["claim_id"], r["revision"]): r["content_hash"] for r in rows}

    def add(self, answer: Answer) -> None:
        self.pending.append(answer)

    async def flush(self) -> None:
        rows, self.pending = self.pending, []
        if not rows:
            return
        await self.conn.execute(
            """INSERT INTO groupings (claim_id, revision, content_hash, outcome, cbg_code, total_tarif, reason_codes,
                                      tariff_table_version, event_id)
               SELECT c, r, h, o, g, t, coalesce(string_to_array(nullif(x, ''), ','), '{}'), v, e
               FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[],
                           $8::text[], $9::uuid[]) AS u(c, r, h, o, g, t, x, v, e)""",
            [a.claim_id for a in rows], [a.revision for a in rows], [a.content_hash for a in rows],
            [a.outcome for a in rows], [a.cbg_code for a in rows], [a.total_tarif for a in rows],
            [",".join(a.reason_codes) for a in rows], [a.tariff_table_version for a in rows],
            [a.event_id for a in rows],
        )  # fmt: skip
