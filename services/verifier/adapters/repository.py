"""The verifier's tables (asyncpg): claim status, eligibility projection, audit trail, review queue."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.verifier.adapters.codec import dump_status, load_status
from services.verifier.domain import ClaimStatus, Episode, Participant
from shared.db import Conn, advisory_key
from shared.events import ClaimGroupedPayload, ParticipantChangedPayload
from shared.outbox import Tx


async def load_claim(conn: Conn, claim_id: str, *, lock: bool = True) -> ClaimStatus | None:
    """The claim's status (locked for this transaction), or None if never seen."""
    text = await conn.fetchval(
        f"SELECT status::text FROM claims WHERE claim_id = $1 {'FOR UPDATE' if lock else ''}", claim_id
    )
    return load_status(text) if text is not None else None


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


async def save_claim(
    conn: Conn,
    status: ClaimStatus,
    *,
    correlation_id: uuid.UUID,
    grouped: ClaimGroupedPayload | None = None,
    grouped_event_id: uuid.UUID | None = None,
    review_reasons: list[dict[str, Any]] | None = None,
) -> None:
    """Insert or update the claim's status; the grouped revision's facts are kept for later rules."""
    claim = grouped.claim if grouped else None
    await conn.execute(
        """INSERT INTO claims (claim_id, state, status, nomor_sep, nomor_kartu, kode_rs, correlation_id, cmg,
                               jenis_rawat, tgl_pulang, has_verification, review_reasons, grouped_event_id, tgl_masuk)
           VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, $13, $14)
           ON CONFLICT (claim_id) DO UPDATE SET
               state = EXCLUDED.state, status = EXCLUDED.status, has_verification = EXCLUDED.has_verification,
               nomor_sep = coalesce($4, claims.nomor_sep),
               cmg = coalesce(EXCLUDED.cmg, claims.cmg),
               jenis_rawat = coalesce(EXCLUDED.jenis_rawat, claims.jenis_rawat),
               tgl_pulang = coalesce(EXCLUDED.tgl_pulang, claims.tgl_pulang),
               tgl_masuk = coalesce(EXCLUDED.tgl_masuk, claims.tgl_masuk),
               nomor_kartu = CASE WHEN $5 = '' THEN claims.nomor_kartu ELSE $5 END,
               review_reasons = EXCLUDED.review_reasons,
               grouped_event_id = coalesce(EXCLUDED.grouped_event_id, claims.grouped_event_id),
               updated_at = now()""",
        status.claim_id, str(status.state), dump_status(status), status.nomor_sep,
        claim.nomor_kartu if claim else "", status.kode_rs, correlation_id,
        grouped.grouping.cmg if grouped else None, claim.jenis_rawat if claim else None,
        claim.tgl_pulang if claim else None, status.has_verification,
        json.dumps(review_reasons) if review_reasons is not None else None, grouped_event_id,
        claim.tgl_masuk if claim else None,
    )  # fmt: skip


async def correlation_of(conn: Conn, claim_id: str) -> uuid.UUID | None:
    """The claim's correlation id (for events the verifier originates)."""
    value: uuid.UUID | None = await conn.fetchval("SELECT correlation_id FROM claims WHERE claim_id = $1", claim_id)
    return value


async def add_participant(conn: Conn, event_id: uuid.UUID, p: ParticipantChangedPayload) -> None:
    """Project one membership change."""
    await conn.execute(
        """INSERT INTO participants (nomor_kartu, valid_from, nik, status, status_reason, kelas_hak, member_type,
                                     valid_to, event_id, member_category)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (event_id) DO NOTHING""",
        p.nomor_kartu, p.valid_from, p.nik, p.status, p.status_reason, p.kelas_hak, p.member_type, p.valid_to,
        event_id, p.member_category,
    )  # fmt: skip


@dataclass(frozen=True)
class ClaimContext:
    """What the rules need from outside the claim: the member's records, other episodes, same-SEP claims."""

    participants: list[Participant]
    episodes: list[Episode]
    verified_same_sep: list[str]


async def claim_context(conn: Conn, nomor_kartu: str, nomor_sep: str, claim_id: str) -> ClaimContext:
    """The three look-ups of a grouped claim in one round trip (the verifier's hottest path)."""
    rows = await conn.fetch(
        """SELECT 1 AS kind, nomor_kartu AS a, nik AS b, status AS c, kelas_hak AS n, member_type AS d,
                  valid_from AS d1, valid_to AS d2, status_reason AS e, member_category AS f, seq AS o
             FROM participants WHERE nomor_kartu = $1
           UNION ALL
           SELECT 2, claim_id, cmg, nomor_sep, jenis_rawat, NULL, tgl_pulang, tgl_masuk, NULL, NULL, 0
             FROM claims WHERE nomor_kartu = $1 AND claim_id <> $3 AND cmg IS NOT NULL
           UNION ALL
           SELECT 3, claim_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0
             FROM claims WHERE nomor_sep = $2 AND claim_id <> $3 AND has_verification
           ORDER BY kind, d1, o""",
        nomor_kartu, nomor_sep, claim_id,
    )  # fmt: skip
    ctx = ClaimContext([], [], [])
    for r in rows:
        if r["kind"] == 1:
            record = Participant(r["a"], r["b"], r["c"], r["n"], r["d"], r["d1"], r["d2"], r["e"], r["f"])
            ctx.participants.append(record)
        elif r["kind"] == 2:
            ctx.episodes.append(Episode(r["a"], r["n"], r["d1"], r["b"], tgl_masuk=r["d2"], nomor_sep=r["c"]))
        else:
            ctx.verified_same_sep.append(r["a"])
    return ctx


async def verified_with_same_sep(conn: Conn, nomor_sep: str, claim_id: str) -> list[str]:
    """Other claims with this SEP that already have a verification (duplicate SEP)."""
    rows = await conn.fetch(
        "SELECT claim_id FROM claims WHERE nomor_sep = $1 AND claim_id <> $2 AND has_verification", nomor_sep, claim_id
    )
    return [r["claim_id"] for r in rows]


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
