"""The analytics read model's writes: claim facts, payables, payments and capitation, one statement per table
per batch.

The claim facts are read once per batch (an identity map that keeps each row as it was read), folded by the
use cases, and written at `flush` with one upsert; the aggregates get the difference between the facts as
read and as written (services/console/domain/analytics.py `deltas`), one upsert each, keys in order so two
batches touching the same aggregate rows take their locks in the same order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import date
from typing import TypeVar

from services.console.domain import analytics
from services.console.domain.analytics import ClaimFacts
from shared.application import UnitOfWork
from shared.db import Conn, advisory_key
from shared.outbox import Tx

P = TypeVar("P")
FACT_COLUMNS = tuple(f.name for f in fields(ClaimFacts))
_FACT_TYPES = {
    "claim_id": "text", "kode_rs": "text", "month": "date", "data_revision": "int", "grouped_revision": "int",
    "cbg_code": "text", "severity": "text", "primary_dx": "text", "tarif_rs": "bigint", "grouped_tarif": "bigint",
    "submitted_on": "date", "deemed_complete_on": "date", "status": "text", "status_revision": "int",
    "status_rank": "int", "first_decided": "bool", "first_pended": "bool", "resubmit_by": "date",
    "verified_on": "date", "approved": "bigint", "supplementary": "bigint",
}  # fmt: skip


def _facts_upsert() -> str:
    cols = ", ".join(FACT_COLUMNS)
    arrays = ", ".join(f"${i}::{_FACT_TYPES[c]}[]" for i, c in enumerate(FACT_COLUMNS, 1))
    updates = ", ".join(f"{c} = excluded.{c}" for c in FACT_COLUMNS if c != "claim_id")
    return (
        f"INSERT INTO analytics_claims ({cols}) SELECT * FROM unnest({arrays}) "
        f"ON CONFLICT (claim_id) DO UPDATE SET {updates}, updated_at = now()"
    )


FACTS_UPSERT = _facts_upsert()


async def lock_claims(conn: Conn, claim_ids: Iterable[str]) -> None:
    """The batch's claims, locked in key order: another instance folding the same claim (its events arrive on
    other topics, so in another partition) waits, and the deltas it computes start from these facts."""
    keys = sorted({advisory_key(f"console-analytics:{c}") for c in claim_ids})
    if keys:
        await conn.execute("SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k ORDER BY k", keys)


class SqlClaimFacts:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.read: dict[str, ClaimFacts | None] = {}  # as stored when the batch began
        self.now: dict[str, ClaimFacts] = {}  # as the batch leaves them

    async def load(self, claim_ids: Iterable[str]) -> dict[str, ClaimFacts]:
        """The facts of `claim_ids` (empty facts for a claim not seen yet); each row read once per batch."""
        ids = list(dict.fromkeys(claim_ids))
        wanted = sorted(set(ids) - self.read.keys())
        if wanted:
            rows = await self.conn.fetch(
                f"SELECT {', '.join(FACT_COLUMNS)} FROM analytics_claims WHERE claim_id = ANY($1::text[])", wanted
            )
            found = {r["claim_id"]: ClaimFacts(**dict(r)) for r in rows}
            for c in wanted:
                self.read[c] = found.get(c)
        return {c: self.now.get(c) or self.read[c] or ClaimFacts(c) for c in ids}

    def put(self, facts: ClaimFacts) -> None:
        self.now[facts.claim_id] = facts

    async def flush(self) -> None:
        changed = [(self.read.get(c), f) for c, f in sorted(self.now.items()) if f != self.read.get(c)]
        self.read.update({c: f for c, f in self.now.items()})
        self.now = {}
        if not changed:
            return
        rows = [after for _, after in changed]
        await self.conn.execute(FACTS_UPSERT, *([getattr(f, c) for f in rows] for c in FACT_COLUMNS))
        await write_deltas(self.conn, analytics.deltas(changed))


async def write_deltas(conn: Conn, d: analytics.Deltas) -> None:
    """Add each aggregate's changes (one statement per aggregate, keys in order; the gap also to its
    every-month rollup, the diagnoses to their national one)."""
    if d.gap:
        keys = sorted(d.gap)
        v = [d.gap[k] for k in keys]
        await conn.execute(
            """INSERT INTO analytics_gap AS a (month, kode_rs, cbg_code, claims, tarif_rs, grouped_tarif, verified,
                                               verified_rs, approved)
               SELECT * FROM unnest($1::date[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[],
                                    $7::bigint[], $8::bigint[], $9::bigint[])
               ON CONFLICT (month, kode_rs, cbg_code) DO UPDATE SET
                   claims = a.claims + excluded.claims, tarif_rs = a.tarif_rs + excluded.tarif_rs,
                   grouped_tarif = a.grouped_tarif + excluded.grouped_tarif, verified = a.verified + excluded.verified,
                   verified_rs = a.verified_rs + excluded.verified_rs, approved = a.approved + excluded.approved""",
            [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys],
            *([x[i] for x in v] for i in range(6)),
        )  # fmt: skip
        every: dict[tuple[str, str], list[int]] = {}
        for (_, kode_rs, cbg), figures in zip(keys, v, strict=True):
            sums = every.setdefault((kode_rs, cbg), [0] * 6)
            sums[:] = [a + b for a, b in zip(sums, figures, strict=True)]
        all_keys = sorted(every)
        await conn.execute(
            """INSERT INTO analytics_gap_all AS a (kode_rs, cbg_code, claims, tarif_rs, grouped_tarif, verified,
                                                   verified_rs, approved)
               SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[],
                                    $7::bigint[], $8::bigint[])
               ON CONFLICT (kode_rs, cbg_code) DO UPDATE SET
                   claims = a.claims + excluded.claims, tarif_rs = a.tarif_rs + excluded.tarif_rs,
                   grouped_tarif = a.grouped_tarif + excluded.grouped_tarif, verified = a.verified + excluded.verified,
                   verified_rs = a.verified_rs + excluded.verified_rs, approved = a.approved + excluded.approved""",
            [k[0] for k in all_keys], [k[1] for k in all_keys],
            *([every[k][i] for k in all_keys] for i in range(6)),
        )  # fmt: skip
    if d.diagnoses:
        dx_keys = sorted(d.diagnoses)
        w = [d.diagnoses[k] for k in dx_keys]
        await conn.execute(
            """INSERT INTO analytics_diagnoses AS a (month, primary_dx, kode_rs, severity, claims, grouped_tarif)
               SELECT * FROM unnest($1::date[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[])
               ON CONFLICT (month, primary_dx, kode_rs, severity) DO UPDATE SET
                   claims = a.claims + excluded.claims, grouped_tarif = a.grouped_tarif + excluded.grouped_tarif""",
            [k[0] for k in dx_keys], [k[1] for k in dx_keys], [k[2] for k in dx_keys], [k[3] for k in dx_keys],
            [x[0] for x in w], [x[1] for x in w],
        )  # fmt: skip
        national: dict[tuple[date, str, str], list[int]] = {}
        for (month, dx, _, severity), figures in zip(dx_keys, w, strict=True):
            sums = national.setdefault((month, dx, severity), [0, 0])
            sums[:] = [a + b for a, b in zip(sums, figures, strict=True)]
        n_keys = sorted(national)
        await conn.execute(
            """INSERT INTO analytics_diagnoses_national AS a (month, primary_dx, severity, claims, grouped_tarif)
               SELECT * FROM unnest($1::date[], $2::text[], $3::text[], $4::bigint[], $5::bigint[])
               ON CONFLICT (month, primary_dx, severity) DO UPDATE SET
                   claims = a.claims + excluded.claims, grouped_tarif = a.grouped_tarif + excluded.grouped_tarif""",
            [k[0] for k in n_keys], [k[1] for k in n_keys], [k[2] for k in n_keys],
            [national[k][0] for k in n_keys], [national[k][1] for k in n_keys],
        )  # fmt: skip
    if d.pending:
        p_keys = sorted(d.pending)
        p = [d.pending[k] for k in p_keys]
        await conn.execute(
            """INSERT INTO analytics_pending AS a (month, kode_rs, claims, first_decided, first_pended)
               SELECT * FROM unnest($1::date[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[])
               ON CONFLICT (month, kode_rs) DO UPDATE SET
                   claims = a.claims + excluded.claims, first_decided = a.first_decided + excluded.first_decided,
                   first_pended = a.first_pended + excluded.first_pended""",
            [k[0] for k in p_keys], [k[1] for k in p_keys], [x[0] for x in p], [x[1] for x in p], [x[2] for x in p],
        )  # fmt: skip


# --------------------------------------------------------------------------- payables and payments


@dataclass(frozen=True)
class VerifiedPayable:
    claim_id: str
    seq: int
    kode_rs: str
    amount: int
    verified_on: date
    due_on: date


@dataclass(frozen=True)
class OverduePayable:
    claim_id: str
    seq: int
    kode_rs: str
    amount: int
    due_on: date
    as_of: date
    days_late: int
    accrued_penalty: int


@dataclass(frozen=True)
class Payment:
    claim_id: str
    seq: int
    kode_rs: str
    approved: int
    penalty: int
    total_paid: int
    due_on: date
    paid_on: date
    days_late: int
    payment_id: str


class SqlPayables:
    """Each kind of change collected per payable (the latest overdue report, the first payment), then one
    statement per kind: an upsert cannot touch one row twice."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.verified: dict[tuple[str, int], VerifiedPayable] = {}
        self.overdue: dict[tuple[str, int], OverduePayable] = {}
        self.paid: dict[tuple[str, int], Payment] = {}

    def add_verified(self, p: VerifiedPayable) -> None:
        self.verified[(p.claim_id, p.seq)] = p

    def add_overdue(self, p: OverduePayable) -> None:
        known = self.overdue.get((p.claim_id, p.seq))
        if known is None or p.as_of > known.as_of:
            self.overdue[(p.claim_id, p.seq)] = p

    def add_paid(self, p: Payment) -> None:
        self.paid.setdefault((p.claim_id, p.seq), p)

    async def flush(self) -> None:
        verified, overdue, paid = _ordered(self.verified), _ordered(self.overdue), _ordered(self.paid)
        self.verified, self.overdue, self.paid = {}, {}, {}
        if verified:
            await self.conn.execute(
                """INSERT INTO analytics_payables AS p (claim_id, verification_seq, kode_rs, amount, verified_on,
                                                        due_on)
                   SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::bigint[], $5::date[], $6::date[])
                   ON CONFLICT (claim_id, verification_seq) DO UPDATE SET
                       kode_rs = excluded.kode_rs, amount = excluded.amount, verified_on = excluded.verified_on,
                       due_on = CASE WHEN p.due_from_payments THEN p.due_on ELSE excluded.due_on END""",
                [p.claim_id for p in verified], [p.seq for p in verified], [p.kode_rs for p in verified],
                [p.amount for p in verified], [p.verified_on for p in verified], [p.due_on for p in verified],
            )  # fmt: skip
        if overdue:
            await self.conn.execute(
                """INSERT INTO analytics_payables AS p (claim_id, verification_seq, kode_rs, amount, due_on,
                                                        due_from_payments, overdue_as_of, days_late, accrued_penalty)
                   SELECT c, s, k, a, d, true, o, l, pen
                   FROM unnest($1::text[], $2::int[], $3::text[], $4::bigint[], $5::date[], $6::date[], $7::int[],
                               $8::bigint[]) AS u(c, s, k, a, d, o, l, pen)
                   ON CONFLICT (claim_id, verification_seq) DO UPDATE SET
                       kode_rs = coalesce(p.kode_rs, excluded.kode_rs), amount = coalesce(p.amount, excluded.amount),
                       due_on = excluded.due_on, due_from_payments = true,
                       overdue_as_of = excluded.overdue_as_of, days_late = excluded.days_late,
                       accrued_penalty = excluded.accrued_penalty
                   WHERE p.overdue_as_of IS NULL OR p.overdue_as_of < excluded.overdue_as_of""",
                [p.claim_id for p in overdue], [p.seq for p in overdue], [p.kode_rs for p in overdue],
                [p.amount for p in overdue], [p.due_on for p in overdue], [p.as_of for p in overdue],
                [p.days_late for p in overdue], [p.accrued_penalty for p in overdue],
            )  # fmt: skip
        if paid:
            # The payable's first payment only is counted in its month (RETURNING skips a payable already paid).
            await self.conn.execute(
                """WITH u AS (
                       SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[],
                                            $7::date[], $8::date[], $9::int[], $10::text[])
                                AS u(c, s, k, a, pen, tot, d, paid, late, pid)),
                   w AS (
                       INSERT INTO analytics_payables AS p (claim_id, verification_seq, kode_rs, amount, due_on,
                                                            due_from_payments, paid_on, penalty, total_paid,
                                                            paid_days_late, payment_id)
                       SELECT c, s, k, a, d, true, paid, pen, tot, late, pid FROM u
                       ON CONFLICT (claim_id, verification_seq) DO UPDATE SET
                           kode_rs = coalesce(p.kode_rs, excluded.kode_rs),
                           amount = coalesce(p.amount, excluded.amount), due_on = excluded.due_on,
                           due_from_payments = true, paid_on = excluded.paid_on, penalty = excluded.penalty,
                           total_paid = excluded.total_paid, paid_days_late = excluded.paid_days_late,
                           payment_id = excluded.payment_id
                       WHERE p.paid_on IS NULL
                       RETURNING paid_on, penalty, total_paid, paid_days_late)
                   INSERT INTO analytics_payment_months AS m (month, payments, on_time, approved, penalty, total_paid,
                                                              days_late)
                   SELECT date_trunc('month', paid_on)::date, count(*), count(*) FILTER (WHERE paid_days_late = 0),
                          sum(total_paid - penalty), sum(penalty), sum(total_paid), sum(paid_days_late)
                   FROM w GROUP BY 1 ORDER BY 1
                   ON CONFLICT (month) DO UPDATE SET
                       payments = m.payments + excluded.payments, on_time = m.on_time + excluded.on_time,
                       approved = m.approved + excluded.approved, penalty = m.penalty + excluded.penalty,
                       total_paid = m.total_paid + excluded.total_paid, days_late = m.days_late + excluded.days_late""",
                [p.claim_id for p in paid], [p.seq for p in paid], [p.kode_rs for p in paid],
                [p.approved for p in paid], [p.penalty for p in paid], [p.total_paid for p in paid],
                [p.due_on for p in paid], [p.paid_on for p in paid], [p.days_late for p in paid],
                [p.payment_id for p in paid],
            )  # fmt: skip


def _ordered(rows: dict[tuple[str, int], P]) -> list[P]:
    return [rows[k] for k in sorted(rows)]


# --------------------------------------------------------------------------- capitation


@dataclass(frozen=True)
class Capitation:
    month: date
    kode_faskes: str
    facility_type: str
    ownership: str | None
    registered_members: int
    rate: int
    base_amount: int
    kbk_score: float | None
    kbk_percentage: float
    amount: int
    due_on: date
    run_id: str


class SqlCapitation:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.rows: dict[tuple[date, str], Capitation] = {}

    def add(self, row: Capitation) -> None:
        self.rows[(row.month, row.kode_faskes)] = row

    async def flush(self) -> None:
        rows: Sequence[Capitation] = [self.rows[k] for k in sorted(self.rows)]
        self.rows = {}
        if not rows:
            return
        await self.conn.execute(
            """INSERT INTO analytics_capitation AS c (month, kode_faskes, facility_type, ownership, registered_members,
                                                      rate, base_amount, kbk_score, kbk_percentage, amount, due_on,
                                                      run_id)
               SELECT * FROM unnest($1::date[], $2::text[], $3::text[], $4::text[], $5::int[], $6::bigint[],
                                    $7::bigint[], $8::float8[], $9::float8[], $10::bigint[], $11::date[], $12::text[])
               ON CONFLICT (month, kode_faskes) DO UPDATE SET
                   facility_type = excluded.facility_type, ownership = excluded.ownership,
                   registered_members = excluded.registered_members, rate = excluded.rate,
                   base_amount = excluded.base_amount, kbk_score = excluded.kbk_score,
                   kbk_percentage = excluded.kbk_percentage, amount = excluded.amount, due_on = excluded.due_on,
                   run_id = excluded.run_id""",
            [r.month for r in rows], [r.kode_faskes for r in rows], [r.facility_type for r in rows],
            [r.ownership for r in rows], [r.registered_members for r in rows], [r.rate for r in rows],
            [r.base_amount for r in rows], [r.kbk_score for r in rows], [r.kbk_percentage for r in rows],
            [r.amount for r in rows], [r.due_on for r in rows], [r.run_id for r in rows],
        )  # fmt: skip


class AnalyticsUnitOfWork(UnitOfWork):
    """One batch of the analytics consumer: its transaction and the read model's repositories."""

    def __init__(self, tx: Tx) -> None:
        super().__init__(tx)
        self.claims = SqlClaimFacts(tx.conn)
        self.payables = SqlPayables(tx.conn)
        self.capitation = SqlCapitation(tx.conn)

    async def lock_claims(self, claim_ids: Iterable[str]) -> None:
        await lock_claims(self.tx.conn, claim_ids)

    async def flush(self) -> None:
        await self.claims.flush()
        await self.payables.flush()
        await self.capitation.flush()
