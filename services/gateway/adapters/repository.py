"""The gateway's tables in PostgreSQL: drafts, the read model, idempotent answers (asyncpg).

Every read of a batch is one query (`= ANY($1)`), every write one multi-row statement at flush. A claim's
rows are changed under its advisory lock (`lock_claims`), taken by the HTTP intake for its one claim and by
the consumer for its batch in key order, so the read model never loses an update between the two.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from services.gateway.domain.monitor import ClaimView, Status
from shared.db import Conn, advisory_key


def claim_lock_key(claim_id: str) -> int:
    return advisory_key(f"gateway-claim:{claim_id}")


async def lock_claims(conn: Conn, claim_ids: Iterable[str]) -> None:
    """The claims' advisory locks, in key order (one round trip), held until the transaction ends."""
    keys = sorted({claim_lock_key(c) for c in claim_ids})
    if keys:
        await conn.execute("SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k ORDER BY k", keys)


@dataclass
class DraftRow:
    """A claim as the hospital builds and submits it through the gateway (one per SEP)."""

    nomor_sep: str
    claim_id: str
    kode_rs: str
    state: str = "draft"  # draft (editable) | final (submitted, waiting for its fate)
    revision: int = 0
    submitted: bool = False
    fields: dict[str, Any] = field(default_factory=dict)
    correlation_id: uuid.UUID = field(default_factory=uuid.uuid4)
    new_claim_hash: str | None = None
    final_hash: str | None = None
    final_answer: dict[str, Any] | None = None
    finalized_at: datetime | None = None


class Drafts(Protocol):
    """The drafts repository the use cases see (a fake in unit tests, PostgreSQL in the service)."""

    async def get(self, nomor_sep: str) -> DraftRow | None: ...
    def save(self, row: DraftRow) -> None: ...
    def delete(self, nomor_sep: str) -> None: ...


class Views(Protocol):
    """The read model the use cases see."""

    async def load(self, claim_ids: Iterable[str]) -> dict[str, ClaimView | None]: ...
    def put(self, view: ClaimView) -> None: ...


class SqlDrafts:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.pending: dict[str, DraftRow] = {}
        self.deleted: set[str] = set()

    async def get(self, nomor_sep: str) -> DraftRow | None:
        r = await self.conn.fetchrow("SELECT * FROM drafts WHERE nomor_sep = $1", nomor_sep)
        if r is None:
            return None
        return DraftRow(
            r["nomor_sep"], r["claim_id"], r["kode_rs"], r["state"], r["revision"], r["submitted"],
            json.loads(r["fields"]), r["correlation_id"], r["new_claim_hash"], r["final_hash"],
            json.loads(r["final_answer"]) if r["final_answer"] is not None else None, r["finalized_at"],
        )  # fmt: skip

    def save(self, row: DraftRow) -> None:
        self.deleted.discard(row.nomor_sep)
        self.pending[row.nomor_sep] = row

    def delete(self, nomor_sep: str) -> None:
        self.pending.pop(nomor_sep, None)
        self.deleted.add(nomor_sep)

    async def flush(self) -> None:
        if self.deleted:
            await self.conn.execute("DELETE FROM drafts WHERE nomor_sep = ANY($1::text[])", sorted(self.deleted))
        rows, self.pending, self.deleted = list(self.pending.values()), {}, set()
        if not rows:
            return
        await self.conn.execute(
            """INSERT INTO drafts (nomor_sep, claim_id, kode_rs, state, revision, submitted, fields, correlation_id,
                                   new_claim_hash, final_hash, final_answer, finalized_at)
               SELECT s, c, k, st, r, sub, f::jsonb, corr, nh, fh, fa::jsonb, CASE WHEN st = 'final' THEN now() END
               FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::bool[], $7::text[],
                           $8::uuid[], $9::text[], $10::text[], $11::text[])
                    AS u(s, c, k, st, r, sub, f, corr, nh, fh, fa)
               ON CONFLICT (nomor_sep) DO UPDATE SET
                   state = excluded.state, revision = excluded.revision, submitted = excluded.submitted,
                   fields = excluded.fields, new_claim_hash = excluded.new_claim_hash,
                   final_hash = excluded.final_hash, final_answer = excluded.final_answer, updated_at = now(),
                   finalized_at = CASE WHEN excluded.state = 'final' AND drafts.state <> 'final' THEN now()
                                       ELSE drafts.finalized_at END""",
            [d.nomor_sep for d in rows], [d.claim_id for d in rows], [d.kode_rs for d in rows],
            [d.state for d in rows], [d.revision for d in rows], [d.submitted for d in rows],
            [json.dumps(d.fields) for d in rows], [d.correlation_id for d in rows],
            [d.new_claim_hash for d in rows], [d.final_hash for d in rows],
            [json.dumps(d.final_answer) if d.final_answer is not None else None for d in rows],
        )  # fmt: skip


class SqlViews:
    """The read model, with the batch's views kept once read (an identity map) and written once at flush."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.seen: dict[str, ClaimView | None] = {}
        self.dirty: set[str] = set()

    async def load(self, claim_ids: Iterable[str]) -> dict[str, ClaimView | None]:
        """The views of `claim_ids` (None for a claim not seen yet); only those not read yet are read."""
        claim_ids = list(claim_ids)
        wanted = sorted(set(claim_ids) - self.seen.keys())
        if wanted:
            rows = await self.conn.fetch(
                "SELECT claim_id, view::text AS view FROM claim_views WHERE claim_id = ANY($1::text[])", wanted
            )
            found = {r["claim_id"]: ClaimView.from_json(json.loads(r["view"])) for r in rows}
            for claim_id in wanted:
                self.seen[claim_id] = found.get(claim_id)
        return {c: self.seen[c] for c in claim_ids}

    def put(self, view: ClaimView) -> None:
        self.seen[view.claim_id] = view
        self.dirty.add(view.claim_id)

    async def flush(self) -> None:
        views = [v for c in sorted(self.dirty) if (v := self.seen.get(c)) is not None]
        self.dirty = set()
        if not views:
            return
        await self.conn.execute(
            """INSERT INTO claim_views (claim_id, kode_rs, nomor_sep, jenis_rawat, tgl_pulang, status, view)
               SELECT c, k, s, j, t, st, v::jsonb
               FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::date[], $6::text[], $7::text[])
                    AS u(c, k, s, j, t, st, v)
               ON CONFLICT (claim_id) DO UPDATE SET
                   kode_rs = excluded.kode_rs, nomor_sep = excluded.nomor_sep, jenis_rawat = excluded.jenis_rawat,
                   tgl_pulang = excluded.tgl_pulang, status = excluded.status, view = excluded.view,
                   updated_at = now()""",
            [v.claim_id for v in views], [v.kode_rs for v in views], [v.nomor_sep for v in views],
            [v.jenis_rawat for v in views],
            [date.fromisoformat(v.tgl_pulang) if v.tgl_pulang else None for v in views],
            [v.status for v in views], [json.dumps(v.as_json()) for v in views],
        )  # fmt: skip


async def view_of(conn: Conn, claim_id: str) -> ClaimView | None:
    """One claim's view (the HTTP reads)."""
    raw = await conn.fetchval("SELECT view::text FROM claim_views WHERE claim_id = $1", claim_id)
    return ClaimView.from_json(json.loads(raw)) if raw is not None else None


async def view_and_time(conn: Conn, claim_id: str) -> tuple[ClaimView, datetime] | None:
    """One claim's view and when it last changed (the FHIR view's `created`)."""
    r = await conn.fetchrow("SELECT view::text AS view, updated_at FROM claim_views WHERE claim_id = $1", claim_id)
    return (ClaimView.from_json(json.loads(r["view"])), r["updated_at"]) if r is not None else None


async def monitor_page(
    conn: Conn, kode_rs: str | None, tgl_pulang: date, jenis_rawat: int, statuses: tuple[Status, ...],
    limit: int, offset: int,
) -> tuple[int, list[ClaimView]]:  # fmt: skip
    """(how many match, one page of them in claim order) for the VClaim monitor; kode_rs None: every hospital."""
    rows = await conn.fetch(
        """SELECT view::text AS view, count(*) OVER () AS total FROM claim_views
           WHERE ($1::text IS NULL OR kode_rs = $1) AND tgl_pulang = $2 AND jenis_rawat = $3
             AND status = ANY($4::text[])
           ORDER BY claim_id LIMIT $5 OFFSET $6""",
        kode_rs, tgl_pulang, jenis_rawat, list(statuses), limit, offset,
    )  # fmt: skip
    if not rows:
        total = 0
        if offset:  # past the last page: still say how many there are
            total = int(await conn.fetchval(
                """SELECT count(*) FROM claim_views WHERE ($1::text IS NULL OR kode_rs = $1) AND tgl_pulang = $2
                   AND jenis_rawat = $3 AND status = ANY($4::text[])""",
                kode_rs, tgl_pulang, jenis_rawat, list(statuses),
            ))  # fmt: skip
        return total, []
    return int(rows[0]["total"]), [ClaimView.from_json(json.loads(r["view"])) for r in rows]


@dataclass(frozen=True)
class StoredAnswer:
    request_hash: str
    status: int
    body: Any
    content_type: str


class SqlIdempotency:
    """Answers to requests sent with an Idempotency-Key, per credential."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.pending: list[tuple[str, str, str, int, str, str]] = []

    async def lock(self, cons_id: str, key: str) -> None:
        """Serialise requests with the same key (the second waits, then finds the first one's answer)."""
        await self.conn.execute("SELECT pg_advisory_xact_lock($1)", advisory_key(f"gateway-idem:{cons_id}:{key}"))

    async def find(self, cons_id: str, key: str) -> StoredAnswer | None:
        r = await self.conn.fetchrow(
            """SELECT request_hash, status, body::text AS body, content_type FROM idempotency
               WHERE cons_id = $1 AND key = $2""",
            cons_id, key,
        )  # fmt: skip
        if r is None:
            return None
        return StoredAnswer(r["request_hash"], r["status"], json.loads(r["body"]), r["content_type"])

    def save(self, cons_id: str, key: str, answer: StoredAnswer) -> None:
        self.pending.append(
            (cons_id, key, answer.request_hash, answer.status, json.dumps(answer.body), answer.content_type)
        )

    async def flush(self) -> None:
        rows, self.pending = self.pending, []
        if rows:
            await self.conn.executemany(
                """INSERT INTO idempotency (cons_id, key, request_hash, status, body, content_type)
                   VALUES ($1, $2, $3, $4, $5::jsonb, $6)""",
                rows,
            )


async def purge_idempotency(conn: Conn, older_than_hours: int) -> int:
    status: str = await conn.execute(
        "DELETE FROM idempotency WHERE created_at < now() - make_interval(hours => $1)", older_than_hours
    )
    return int(status.split()[-1])


@dataclass(frozen=True)
class HospitalRow:
    cons_id: str
    role: str
    kode_rs: str | None
    name: str
    kode_tarif: str | None
    regional_tarif: int | None
    rate_per_s: float | None
    burst: int | None
    created_at: datetime | None = None
    secrets: tuple[bytes, ...] = ()  # sealed, the valid ones, newest first


async def hospital(conn: Conn, cons_id: str) -> HospitalRow | None:
    """A credential and its secrets valid now (one query)."""
    r = await conn.fetchrow(
        """SELECT h.*, coalesce(array_agg(s.sealed ORDER BY s.id DESC)
                                 FILTER (WHERE s.id IS NOT NULL), '{}') AS secrets
           FROM hospitals h
           LEFT JOIN hospital_secrets s ON s.cons_id = h.cons_id AND (s.expires_at IS NULL OR s.expires_at > now())
           WHERE h.cons_id = $1 GROUP BY h.cons_id""",
        cons_id,
    )
    return _hospital(r) if r is not None else None


def _hospital(r: Any) -> HospitalRow:
    return HospitalRow(
        r["cons_id"], r["role"], r["kode_rs"], r["name"], r["kode_tarif"], r["regional_tarif"], r["rate_per_s"],
        r["burst"], r["created_at"], tuple(r["secrets"]) if "secrets" in r else (),
    )  # fmt: skip


async def hospitals(conn: Conn) -> list[tuple[HospitalRow, int]]:
    """Every credential with how many secrets are valid now."""
    rows = await conn.fetch(
        """SELECT h.*, (SELECT count(*) FROM hospital_secrets s WHERE s.cons_id = h.cons_id
                         AND (s.expires_at IS NULL OR s.expires_at > now())) AS valid
           FROM hospitals h ORDER BY h.cons_id"""
    )
    return [(_hospital(r), int(r["valid"])) for r in rows]


async def add_hospital(conn: Conn, row: HospitalRow, sealed: bytes) -> None:
    await conn.execute(
        """INSERT INTO hospitals (cons_id, kode_rs, name, role, kode_tarif, regional_tarif, rate_per_s, burst)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
        row.cons_id, row.kode_rs, row.name, row.role, row.kode_tarif, row.regional_tarif, row.rate_per_s, row.burst,
    )  # fmt: skip
    await conn.execute("INSERT INTO hospital_secrets (cons_id, sealed) VALUES ($1, $2)", row.cons_id, sealed)


async def rotate_secret(conn: Conn, cons_id: str, sealed: bytes, overlap_hours: float) -> bool:
    """Add a secret; the newest old one stays valid `overlap_hours`, any older one ends now. False: no such id."""
    if await conn.fetchval("SELECT 1 FROM hospitals WHERE cons_id = $1 FOR UPDATE", cons_id) is None:
        return False
    newest = await conn.fetchval("SELECT max(id) FROM hospital_secrets WHERE cons_id = $1", cons_id)
    await conn.execute(
        """UPDATE hospital_secrets SET expires_at = CASE
               WHEN id = $2 THEN least(coalesce(expires_at, 'infinity'), now() + make_interval(secs => $3))
               ELSE least(coalesce(expires_at, 'infinity'), now()) END
           WHERE cons_id = $1""",
        cons_id, newest, overlap_hours * 3600,
    )  # fmt: skip
    await conn.execute("INSERT INTO hospital_secrets (cons_id, sealed) VALUES ($1, $2)", cons_id, sealed)
    return True


async def paid_views(
    conn: Conn, kode_rs: str | None, claim_id: str | None, paid_on: date | None, limit: int, offset: int
) -> tuple[int, list[ClaimView]]:
    """(how many, one page in claim order) of the claims with a payment: of a claim, or paid on a day.

    The day is matched inside the view's payments (no index of its own: the scan is of one hospital's rows,
    kode_rs leading the monitor's index; an operator's search over every hospital reads them all).
    """
    rows = await conn.fetch(
        """SELECT view::text AS view, count(*) OVER () AS total FROM claim_views
           WHERE ($1::text IS NULL OR kode_rs = $1) AND ($2::text IS NULL OR claim_id = $2)
             AND view->'payments' <> '{}'::jsonb
             AND ($3::text IS NULL OR jsonb_path_exists(view->'payments', '$.* ? (@.paid_on == $d)',
                                                         jsonb_build_object('d', $3::text)))
           ORDER BY claim_id LIMIT $4 OFFSET $5""",
        kode_rs, claim_id, paid_on.isoformat() if paid_on else None, limit, offset,
    )  # fmt: skip
    return int(rows[0]["total"]) if rows else 0, [ClaimView.from_json(json.loads(r["view"])) for r in rows]
