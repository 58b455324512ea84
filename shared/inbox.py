"""Idempotent consumer: `(consumer, event_id)` inserted in the same transaction as the effect."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from shared.db import Conn


async def claim_new(conn: Conn, consumer: str, events: Sequence[tuple[uuid.UUID, str]]) -> set[uuid.UUID]:
    """Record `(event_id, topic)` pairs as seen by `consumer`; return the ids not seen before."""
    if not events:
        return set()
    rows = await conn.fetch(
        """INSERT INTO inbox (consumer, event_id, topic)
           SELECT $1, e, t FROM unnest($2::uuid[], $3::text[]) AS u(e, t)
           ON CONFLICT DO NOTHING RETURNING event_id""",
        consumer,
        [e for e, _ in events],
        [t for _, t in events],
    )
    return {r["event_id"] for r in rows}


async def purge_older_than(conn: Conn, days: int) -> int:
    """Forget applied event ids older than `days` (longer than any topic keeps a record to redeliver)."""
    status: str = await conn.execute("DELETE FROM inbox WHERE received_at < now() - make_interval(days => $1)", days)
    return int(status.split()[-1])
