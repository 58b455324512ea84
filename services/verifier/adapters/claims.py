"""The verifier's claim aggregate, batch-wise: loaded with one query, saved with one multi-row upsert.

The repository is an identity map for one unit of work: a claim loaded or saved in it is the same
object for every later event of the batch, and pending saves of one claim are merged, so one upsert
never touches a row twice. `context` gathers what the rules need from outside each claim (the
member's records, their other episodes, other claims of the SEP already verified) for a whole batch in
one round trip, and overlays this batch's pending saves, so a claim decided earlier in the batch counts
for the next one exactly as if it had been committed.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from services.verifier.adapters.codec import dump_status, load_status
from services.verifier.adapters.repository import lock_in_order
from services.verifier.domain import ClaimStatus, Episode, Participant
from shared.db import Conn


@dataclass(frozen=True, slots=True)
class ClaimRow:
    """One claim's row beside its status: the grouped revision's facts later rules read."""

    status: ClaimStatus
    correlation_id: uuid.UUID
    nomor_kartu: str = ""  # '' keeps the stored card
    cmg: str | None = None
    jenis_rawat: int | None = None
    tgl_pulang: date | None = None
    tgl_masuk: date | None = None
    review_reasons: list[dict[str, Any]] | None = None
    grouped_event_id: uuid.UUID | None = None

    def then(self, later: ClaimRow) -> ClaimRow:
        """This save followed by `later` in one batch, as the upsert would have left the row."""
        return replace(
            later,
            correlation_id=self.correlation_id,  # an upsert never changes it
            nomor_kartu=later.nomor_kartu or self.nomor_kartu,
            cmg=later.cmg or self.cmg,
            jenis_rawat=later.jenis_rawat if later.jenis_rawat is not None else self.jenis_rawat,
            tgl_pulang=later.tgl_pulang or self.tgl_pulang,
            tgl_masuk=later.tgl_masuk or self.tgl_masuk,
            grouped_event_id=later.grouped_event_id or self.grouped_event_id,
        )


@dataclass(frozen=True)
class ClaimContext:
    """What the rules need from outside the claim: the member's records, other episodes, same-SEP claims."""

    participants: list[Participant]
    episodes: list[Episode]
    verified_same_sep: list[str]


@dataclass(frozen=True, slots=True)
class ContextKey:
    claim_id: str
    nomor_kartu: str
    nomor_sep: str


class SqlClaims:
    """`claims` for one unit of work."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.known: dict[str, ClaimStatus | None] = {}
        self.pending: dict[str, ClaimRow] = {}
        self._contexts: Contexts | None = None

    async def load(self, claim_ids: Iterable[str]) -> None:
        """Load (and lock, in claim_id order) every claim of `claim_ids` not yet in this unit of work."""
        wanted = sorted(set(claim_ids) - self.known.keys())
        if not wanted:
            return
        rows = await self.conn.fetch(
            "SELECT claim_id, status::text FROM claims WHERE claim_id = ANY($1::text[]) ORDER BY claim_id FOR UPDATE",
            wanted,
        )
        self.known.update(dict.fromkeys(wanted))
        self.known.update({r["claim_id"]: load_status(r["status"]) for r in rows})

    async def lock_seps(self, seps: Iterable[str]) -> None:
        """The SEPs' advisory locks, in key order (already held when the batch's `prepare` took them)."""
        await lock_in_order(self.conn, seps, ())

    def get(self, claim_id: str) -> ClaimStatus | None:
        """The claim as this unit of work has it (`load` it first), or None if never seen."""
        return self.known[claim_id]

    async def one(self, claim_id: str) -> ClaimStatus | None:
        await self.load([claim_id])
        return self.get(claim_id)

    def save(self, row: ClaimRow) -> None:
        claim_id = row.status.claim_id
        earlier = self.pending.get(claim_id)
        self.pending[claim_id] = earlier.then(row) if earlier else row
        self.known[claim_id] = row.status
        if self._contexts is not None:
            self._contexts.saved(self.pending[claim_id])

    async def verified_with_same_sep(self, nomor_sep: str, claim_id: str) -> list[str]:
        """Other claims with this SEP that already have a verification, this unit of work's saves included."""
        await self.flush()
        rows = await self.conn.fetch(
            "SELECT claim_id FROM claims WHERE nomor_sep = $1 AND claim_id <> $2 AND has_verification",
            nomor_sep, claim_id,
        )  # fmt: skip
        return [r["claim_id"] for r in rows]

    async def contexts(self, keys: Sequence[ContextKey]) -> Contexts:
        """The contexts of a batch's claims, read in one round trip; this unit of work's saves count too."""
        ctx = Contexts()
        if keys:
            await ctx.read(self.conn, keys)
        for row in self.pending.values():
            ctx.saved(row)
        self._contexts = ctx
        return ctx

    async def flush(self) -> None:
        """Write every pending save with one upsert (the same rules as one save at a time)."""
        rows, self.pending = list(self.pending.values()), {}
        if not rows:
            return
        await self.conn.execute(
            """INSERT INTO claims (claim_id, state, status, nomor_sep, nomor_kartu, kode_rs, correlation_id, cmg,
                                   jenis_rawat, tgl_pulang, has_verification, review_reasons, grouped_event_id,
                                   tgl_masuk)
               SELECT c, st, s::jsonb, sep, k, rs, corr, cmg, jr, tp, hv, rr::jsonb, ge, tm
               FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::uuid[],
                           $8::text[], $9::int[], $10::date[], $11::bool[], $12::text[], $13::uuid[], $14::date[])
                    AS u(c, st, s, sep, k, rs, corr, cmg, jr, tp, hv, rr, ge, tm)
               ON CONFLICT (claim_id) DO UPDATE SET
                   state = EXCLUDED.state, status = EXCLUDED.status, has_verification = EXCLUDED.has_verification,
                   nomor_sep = coalesce(EXCLUDED.nomor_sep, claims.nomor_sep),
                   cmg = coalesce(EXCLUDED.cmg, claims.cmg),
                   jenis_rawat = coalesce(EXCLUDED.jenis_rawat, claims.jenis_rawat),
                   tgl_pulang = coalesce(EXCLUDED.tgl_pulang, claims.tgl_pulang),
                   tgl_masuk = coalesce(EXCLUDED.tgl_masuk, claims.tgl_masuk),
                   nomor_kartu = CASE WHEN EXCLUDED.nomor_kartu = '' THEN claims.nomor_kartu
                                      ELSE EXCLUDED.nomor_kartu END,
                   review_reasons = EXCLUDED.review_reasons,
                   grouped_event_id = coalesce(EXCLUDED.grouped_event_id, claims.grouped_event_id),
                   updated_at = now()""",
            [r.status.claim_id for r in rows], [str(r.status.state) for r in rows],
            [dump_status(r.status) for r in rows], [r.status.nomor_sep for r in rows],
            [r.nomor_kartu for r in rows], [r.status.kode_rs for r in rows], [r.correlation_id for r in rows],
            [r.cmg for r in rows], [r.jenis_rawat for r in rows], [r.tgl_pulang for r in rows],
            [r.status.has_verification for r in rows],
            [json.dumps(r.review_reasons) if r.review_reasons is not None else None for r in rows],
            [r.grouped_event_id for r in rows], [r.tgl_masuk for r in rows],
        )  # fmt: skip


class Contexts:
    """Members, episodes and verified claims by card and SEP, for one batch; kept current as claims are saved."""

    def __init__(self) -> None:
        self.members: dict[str, list[Participant]] = defaultdict(list)
        self.episodes: dict[str, dict[str, Episode]] = defaultdict(dict)  # card -> claim_id -> episode
        self.verified: dict[str, set[str]] = defaultdict(set)  # sep -> claim ids

    async def read(self, conn: Conn, keys: Sequence[ContextKey]) -> None:
        rows = await conn.fetch(
            """SELECT 1 AS kind, nomor_kartu AS a, nik AS b, status AS c, kelas_hak AS n, member_type AS d,
                      valid_from AS d1, valid_to AS d2, status_reason AS e, member_category AS f, seq AS o,
                      NULL::text AS g
                 FROM participants WHERE nomor_kartu = ANY($1::text[])
               UNION ALL
               SELECT 2, claim_id, cmg, nomor_sep, jenis_rawat, NULL, tgl_pulang, tgl_masuk, NULL, NULL, 0, nomor_kartu
                 FROM claims WHERE nomor_kartu = ANY($1::text[]) AND cmg IS NOT NULL
               UNION ALL
               SELECT 3, claim_id, NULL, nomor_sep, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL
                 FROM claims WHERE nomor_sep = ANY($2::text[]) AND has_verification
               ORDER BY kind, d1, o""",
            sorted({k.nomor_kartu for k in keys}), sorted({k.nomor_sep for k in keys}),
        )  # fmt: skip
        for r in rows:
            if r["kind"] == 1:
                self.members[r["a"]].append(
                    Participant(r["a"], r["b"], r["c"], r["n"], r["d"], r["d1"], r["d2"], r["e"], r["f"])
                )
            elif r["kind"] == 2:
                self.episodes[r["g"]][r["a"]] = Episode(
                    r["a"], r["n"], r["d1"], r["b"], tgl_masuk=r["d2"], nomor_sep=r["c"]
                )
            else:
                self.verified[r["c"]].add(r["a"])

    def saved(self, row: ClaimRow) -> None:
        """A claim saved in this unit of work counts from now on, exactly as if it had been committed."""
        s = row.status
        if row.cmg and row.nomor_kartu and row.jenis_rawat is not None and row.tgl_pulang is not None:
            self.episodes[row.nomor_kartu][s.claim_id] = Episode(
                s.claim_id, row.jenis_rawat, row.tgl_pulang, row.cmg, tgl_masuk=row.tgl_masuk, nomor_sep=s.nomor_sep
            )
        if s.has_verification:
            self.verified[s.nomor_sep].add(s.claim_id)

    def of(self, key: ContextKey) -> ClaimContext:
        """One claim's context now."""
        others = (e for c, e in self.episodes.get(key.nomor_kartu, {}).items() if c != key.claim_id)
        return ClaimContext(
            list(self.members.get(key.nomor_kartu, ())),
            sorted(others, key=lambda e: e.tgl_pulang),
            sorted(self.verified.get(key.nomor_sep, set()) - {key.claim_id}),
        )
