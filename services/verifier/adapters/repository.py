"""The verifier's tables (asyncpg): claim status, eligibility projection, audit trail, review queue."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from shared.db import Conn, advisory_key
from shared.outbox import Tx


def sep_lock_key(nomor_sep: str) -> int:
    """The advisory lock that serialises every claim of one SEP (duplicate-SEP rule)."""
    return advisory_key(f"sep:{nomor_sep}")


async def lock_in_order(conn: Conn, seps: Iterable[str], claim_ids: Iterable[str]) -> None:
    """Take a transaction's locks in the verifier's ONE order, so no two transactions can deadlock:

    1. the SEP advisory locks, ascending by key, in one statement;
    2. the claim rows, ascending by claim_id, in one statement (FOR UPDATE under ORDER BY locks in order).

    Both the consumer batch and the sweeper's chunk call this before touching any claim; locks their
    code takes again later are already held (advisory locks are re-entrant), so they never wait.
    """
    keys = sorted({sep_lock_key(s) for s in seps if s})
    if keys:
        await conn.execute(
            "SELECT count(pg_advisory_xact_lock(k)) FROM (SELECT k FROM unnest($1::bigint[]) AS k ORDER BY k) AS o",
            keys,
        )
    ids = sorted(set(claim_ids))
    if ids:
        await conn.execute("SELECT 1 FROM claims WHERE claim_id = ANY($1::text[]) ORDER BY claim_id FOR UPDATE", ids)


async def seps_of(conn: Conn, claim_ids: Sequence[str]) -> dict[str, str]:
    """The stored SEP of each known claim (read without locks, to know which SEP locks to take first)."""
    rows = await conn.fetch(
        "SELECT claim_id, nomor_sep FROM claims WHERE claim_id = ANY($1::text[]) AND nomor_sep IS NOT NULL",
        list(claim_ids),
    )
    return {r["claim_id"]: r["nomor_sep"] for r in rows}


async def correlations_of(conn: Conn, claim_ids: Sequence[str]) -> dict[str, uuid.UUID]:
    """The claims' correlation ids (for events the verifier originates)."""
    rows = await conn.fetch(
        "SELECT claim_id, correlation_id FROM claims WHERE claim_id = ANY($1::text[])", list(claim_ids)
    )
    return {r["claim_id"]: r["correlation_id"] for r in rows}


def record(
    tx: Tx,
    claim_id: str,
    at: datetime,
    kind: str,
    detail: dict[str, Any],
    *,
    event_type: str | None = None,
    event_id: uuid.UUID | None = None,
) -> None:
    """Append one line to the claim's history (written with the batch, in order, in its transaction)."""
    tx.buffer("claim_history", (claim_id, at, kind, event_type, event_id, json.dumps(detail, default=str)), _history)


async def _history(conn: Conn, rows: list[tuple[Any, ...]]) -> None:
    await conn.execute(
        """INSERT INTO claim_history (claim_id, at, kind, event_type, event_id, detail)
           SELECT c, a, k, t, e, d::jsonb
           FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::uuid[], $6::text[])
                WITH ORDINALITY AS u(c, a, k, t, e, d, n)
           ORDER BY n""",
        *[list(col) for col in zip(*rows, strict=True)],
    )


async def sweepable(conn: Conn) -> list[str]:
    """Claims a daily sweep may move (undecided, pended, disputable)."""
    rows = await conn.fetch(
        """SELECT claim_id FROM claims WHERE state IN
           ('grouped', 'resubmitted', 'in_review', 'pended', 'verified_adjusted', 'rejected') ORDER BY claim_id"""
    )
    return [r["claim_id"] for r in rows]


async def review_queue(conn: Conn) -> list[dict[str, Any]]:
    """Claims held for a human reviewer, oldest first."""
    rows = await conn.fetch(
        """SELECT claim_id, nomor_sep, kode_rs, status->>'submitted_on' AS submitted_on,
                  (status->>'claimed_amount')::bigint AS claimed_amount, review_reasons
           FROM claims WHERE state = 'in_review' ORDER BY status->>'submitted_on', claim_id"""
    )
    return [{**dict(r), "review_reasons": json.loads(r["review_reasons"] or "[]")} for r in rows]


async def timeline(conn: Conn, claim_id: str) -> list[dict[str, Any]]:
    """The claim's history, in order."""
    rows = await conn.fetch(
        "SELECT at, kind, event_type, event_id, detail FROM claim_history WHERE claim_id = $1 ORDER BY id", claim_id
    )
    return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]


async def state_of(conn: Conn, claim_id: str) -> str | None:
    """The claim's state name, for tests and the CLI."""
    value: str | None = await conn.fetchval("SELECT state FROM claims WHERE claim_id = $1", claim_id)
    return value
