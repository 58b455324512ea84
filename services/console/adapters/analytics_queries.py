"""The reports' reads: each one query (or two) over the pre-aggregated tables, never over the claims.

`month` None means every month; `kode_rs` None every hospital.
"""

from __future__ import annotations

import json
from datetime import date

from services.console.domain.analytics import (
    SEVERITIES,
    CapitationRow,
    DiagnosisRow,
    GapRow,
    PaymentMonthRow,
    PendingRow,
)
from shared.db import Conn

# The primary keys lead with month: each query names the filter it needs, so every plan can use them.


def _month_filter(month: date | None) -> str:
    """`month = $1` when a month is asked for (an index condition in every plan), else no condition on it."""
    return "month = $1::date" if month is not None else "$1::date IS NULL"


def _hospital_filter(kode_rs: str | None) -> str:
    """The same for `kode_rs = $2`: a generic plan of `$2 IS NULL OR kode_rs = $2` could not use the index."""
    return "kode_rs = $2::text" if kode_rs is not None else "$2::text IS NULL"


async def tariff_gap(
    conn: Conn, month: date | None, kode_rs: str | None = None, limit: int | None = None
) -> list[GapRow]:
    """Gap by CBG and hospital, the widest gap first (`limit` None: every row). Every month reads the rollup."""
    # One row per (month,) hospital and CBG in either table: no grouping, a top-N sort on the gap only.
    source = "analytics_gap" if month is not None else "analytics_gap_all"
    month_filter = _month_filter(month)
    rows = await conn.fetch(
        f"""SELECT cbg_code, kode_rs, claims, tarif_rs, grouped_tarif, verified, verified_rs, approved
            FROM {source} WHERE {month_filter} AND {_hospital_filter(kode_rs)} AND claims > 0
            ORDER BY tarif_rs - grouped_tarif DESC, cbg_code COLLATE "C", kode_rs COLLATE "C" LIMIT $3::int""",
        month, kode_rs, limit,
    )  # fmt: skip
    return [GapRow(r["cbg_code"], r["kode_rs"], *(int(r[k]) for k in (
        "claims", "tarif_rs", "grouped_tarif", "verified", "verified_rs", "approved"))) for r in rows]  # fmt: skip


async def top_diagnoses(
    conn: Conn, month: date | None, kode_rs: str | None = None, top: int = 10
) -> list[DiagnosisRow]:
    """The `top` principal diagnoses by claim value (INA-CBG tariff grouped) in scope, with their severity
    counts in scope and across every hospital (the national mix)."""
    # National scope and the national mix read the national rollup; a hospital's scope its own rows.
    in_month = _month_filter(month)
    args: tuple[object, ...] = (month, top)
    scoped = f"analytics_diagnoses_national WHERE {in_month}"
    if kode_rs is not None:
        scoped, args = f"analytics_diagnoses WHERE {in_month} AND kode_rs = $3::text", (month, top, kode_rs)
    rows = await conn.fetch(
        f"""WITH scoped AS (
                SELECT primary_dx, severity, sum(claims) AS claims, sum(grouped_tarif) AS value
                FROM {scoped} GROUP BY primary_dx, severity),
            top AS (
                SELECT primary_dx, sum(claims) AS claims, sum(value) AS value FROM scoped
                GROUP BY primary_dx HAVING sum(claims) > 0
                ORDER BY sum(value) DESC, primary_dx COLLATE "C" LIMIT $2::int),
            national AS (
                SELECT primary_dx, severity, sum(claims) AS claims FROM analytics_diagnoses_national
                WHERE {in_month} AND primary_dx IN (SELECT primary_dx FROM top) GROUP BY primary_dx, severity)
            SELECT t.primary_dx, t.claims, t.value,
                   (SELECT coalesce(jsonb_object_agg(s.severity, s.claims), '{{}}') FROM scoped s
                     WHERE s.primary_dx = t.primary_dx)::text AS counts,
                   (SELECT coalesce(jsonb_object_agg(n.severity, n.claims), '{{}}') FROM national n
                     WHERE n.primary_dx = t.primary_dx)::text AS national
            FROM top t ORDER BY t.value DESC, t.primary_dx COLLATE "C"
        """,
        *args,
    )

    def counts(text: str) -> dict[str, int]:
        return dict.fromkeys(SEVERITIES, 0) | {k: int(v) for k, v in json.loads(text).items()}

    return [
        DiagnosisRow(r["primary_dx"], int(r["claims"]), int(r["value"]), counts(r["counts"]), counts(r["national"]))
        for r in rows
    ]


async def pending_rate(conn: Conn, month: date | None, kode_rs: str | None = None) -> list[PendingRow]:
    """First-submission pend counts per hospital, the highest rate first (hospitals with decisions only)."""
    rows = await conn.fetch(
        f"""SELECT kode_rs, sum(claims) AS claims, sum(first_decided) AS first_decided,
                   sum(first_pended) AS first_pended
            FROM analytics_pending WHERE {_month_filter(month)} AND {_hospital_filter(kode_rs)}
            GROUP BY kode_rs HAVING sum(first_decided) > 0
            ORDER BY sum(first_pended)::float8 / sum(first_decided) DESC, kode_rs""",
        month, kode_rs,
    )  # fmt: skip
    return [PendingRow(r["kode_rs"], int(r["claims"]), int(r["first_decided"]), int(r["first_pended"])) for r in rows]


async def payment_months(conn: Conn, month: date | None) -> list[PaymentMonthRow]:
    rows = await conn.fetch(
        f"""SELECT month, payments, on_time, approved, penalty, total_paid, days_late
            FROM analytics_payment_months WHERE {_month_filter(month)} ORDER BY month""",
        month,
    )
    return [PaymentMonthRow(r["month"], *(int(r[k]) for k in (
        "payments", "on_time", "approved", "penalty", "total_paid", "days_late"))) for r in rows]  # fmt: skip


async def capitation(conn: Conn, month: date | None, limit: int | None = None) -> list[CapitationRow]:
    """One row per FKTP and month, the lowest KBK share first (where performance cost the most)."""
    rows = await conn.fetch(
        f"""SELECT month, kode_faskes, facility_type, registered_members, rate, base_amount, kbk_score,
                   kbk_percentage, amount
            FROM analytics_capitation WHERE {_month_filter(month)}
            ORDER BY month, kbk_percentage, kode_faskes LIMIT $2::int""",
        month, limit,
    )  # fmt: skip
    return [
        CapitationRow(r["month"], r["kode_faskes"], r["facility_type"], r["registered_members"], int(r["rate"]),
                      int(r["base_amount"]), r["kbk_score"], float(r["kbk_percentage"]), int(r["amount"]))
        for r in rows
    ]  # fmt: skip


async def months(conn: Conn, limit: int = 24) -> list[date]:
    """The months the read model has claims for, newest first (the month selector)."""
    rows = await conn.fetch("SELECT DISTINCT month FROM analytics_pending ORDER BY month DESC LIMIT $1", limit)
    return [r["month"] for r in rows]
