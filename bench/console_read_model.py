"""The console's analytics read model at a million claims: how long each report's query takes, and what the
projection costs per batch with that much history.

On a fresh local stack (durable PostgreSQL): the console's migrations on a fresh schema, 1,000,000 claim facts
COPYed in (12 months, 300 hospitals, 240 CBGs, 480 principal diagnoses; 85 % verified, 5 % pended, 4 %
rejected, 6 % undecided, 7 % pended at their first submission), the aggregates built from them exactly as the
projection's deltas sum up, the payables of the verified claims (90 % paid) and 23,000 FKTPs' capitation for
each month. Then each report query runs 7 times (median and worst reported), and batches of 500 real events go
through the real projection (the consumer's application and unit of work, without the broker).
Writes bench/results/console.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg

from deploy.local import start_stack
from services.console.adapters import analytics_queries as queries
from services.console.adapters import operations_queries
from services.console.adapters.analytics_read_model import FACT_COLUMNS, AnalyticsUnitOfWork
from services.console.application.analytics import application, build_report, render_chart
from services.console.domain import analytics
from shared import db
from shared.calendar import WorkingCalendar
from shared.events import Envelope, parse_event_obj
from shared.outbox import Tx
from shared.settings import PolicySettings

RESULT_FILE = Path(__file__).resolve().parent / "results" / "console.json"
MIGRATIONS = Path(__file__).resolve().parent.parent / "services" / "console" / "migrations"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "events"
HOSPITALS = [f"{1 + h % 34:02d}{h % 100:02d}R{h:03d}" for h in range(300)]
CMGS = "ABCDEGHIJKLMNOQRSUVWZ"
PAGE = 200  # rows a report page shows (services/console/entrypoints/analytics_pages.py PAGE_ROWS)


def cbg_codes(rng: random.Random) -> list[tuple[str, str, int]]:
    """240 (code, severity, base tariff): 60 inpatient groups at I/II/III, 60 outpatient at 0."""
    found = []
    for g in range(60):
        base = rng.randrange(2_000_000, 15_000_000, 100)
        for i, sev in enumerate(("I", "II", "III")):
            found.append((f"{CMGS[g % len(CMGS)]}-{1 + g % 3 * 3}-{g:02d}-{sev}", sev, int(base * (1 + 0.5 * i))))
    for g in range(60):
        found.append((f"{CMGS[g % len(CMGS)]}-5-{g:02d}-0", "0", rng.randrange(150_000, 900_000, 100)))
    return found


def facts(n: int, seed: int = 16) -> list[tuple[Any, ...]]:
    """n claim-fact rows in FACT_COLUMNS order."""
    rng = random.Random(seed)
    cbgs = cbg_codes(rng)
    diagnoses = [f"{CMGS[i % len(CMGS)]}{i % 100:02d}.{i % 10}" for i in range(480)]
    rows = []
    for i in range(n):
        month = date(2026, 1 + i % 12, 1)
        kode_rs = HOSPITALS[rng.randrange(len(HOSPITALS))]
        ci = rng.randrange(len(cbgs))
        code, sev, tariff = cbgs[ci]
        dx = diagnoses[(ci * 2 + rng.randrange(8)) % len(diagnoses)]  # a group's diagnoses, a few each
        bill = int(tariff * rng.uniform(0.8, 1.4))
        roll = rng.random()
        status = "verified" if roll < 0.85 else "pended" if roll < 0.90 else "rejected" if roll < 0.94 else "grouped"
        first_pended = status == "pended" or rng.random() < 0.02
        submitted = month + timedelta(days=rng.randrange(28))
        verified = status == "verified"
        rows.append((
            f"C{i:08d}", kode_rs, month, 1 if first_pended and verified else 0, 1 if first_pended and verified else 0,
            code, sev, dx, bill, tariff, submitted, submitted + timedelta(days=10), status, 0, 3, status != "grouped",
            first_pended, submitted + timedelta(days=9) if status == "pended" else None,
            submitted + timedelta(days=5) if verified else None, tariff if verified else None, 0,
        ))  # fmt: skip
    return rows


BUILD_AGGREGATES = [
    """INSERT INTO analytics_gap (month, kode_rs, cbg_code, claims, tarif_rs, grouped_tarif, verified, verified_rs,
                                  approved)
       SELECT month, kode_rs, cbg_code, count(*), sum(tarif_rs), sum(grouped_tarif), count(approved),
              coalesce(sum(tarif_rs) FILTER (WHERE approved IS NOT NULL), 0),
              coalesce(sum(approved + supplementary) FILTER (WHERE approved IS NOT NULL), 0)
       FROM analytics_claims WHERE month IS NOT NULL AND kode_rs IS NOT NULL AND cbg_code IS NOT NULL
       GROUP BY 1, 2, 3""",
    """INSERT INTO analytics_gap_all SELECT kode_rs, cbg_code, sum(claims), sum(tarif_rs), sum(grouped_tarif),
              sum(verified), sum(verified_rs), sum(approved) FROM analytics_gap GROUP BY 1, 2""",
    """INSERT INTO analytics_diagnoses (month, primary_dx, kode_rs, severity, claims, grouped_tarif)
       SELECT month, primary_dx, kode_rs, severity, count(*), sum(grouped_tarif) FROM analytics_claims
       WHERE month IS NOT NULL AND kode_rs IS NOT NULL AND cbg_code IS NOT NULL GROUP BY 1, 2, 3, 4""",
    """INSERT INTO analytics_diagnoses_national SELECT month, primary_dx, severity, sum(claims), sum(grouped_tarif)
       FROM analytics_diagnoses GROUP BY 1, 2, 3""",
    """INSERT INTO analytics_pending (month, kode_rs, claims, first_decided, first_pended)
       SELECT month, kode_rs, count(*), count(*) FILTER (WHERE first_decided), count(*) FILTER (WHERE first_pended)
       FROM analytics_claims WHERE month IS NOT NULL AND kode_rs IS NOT NULL GROUP BY 1, 2""",
    """INSERT INTO analytics_payables (claim_id, verification_seq, kode_rs, amount, verified_on, due_on,
                                      due_from_payments, paid_on, penalty, total_paid, paid_days_late, payment_id)
       SELECT claim_id, 0, kode_rs, approved, verified_on, verified_on + 21, false,
              CASE WHEN hashtext(claim_id) % 10 <> 0 THEN verified_on + 14 + abs(hashtext(claim_id)) % 14 END,
              0, approved, 0, 'PAY-' || claim_id
       FROM analytics_claims WHERE approved IS NOT NULL""",
    """UPDATE analytics_payables SET paid_days_late = greatest(paid_on - due_on, 0),
              penalty = round(amount * greatest(paid_on - due_on, 0) / 3000.0),
              total_paid = amount + round(amount * greatest(paid_on - due_on, 0) / 3000.0)
       WHERE paid_on IS NOT NULL""",
    """INSERT INTO analytics_payment_months (month, payments, on_time, approved, penalty, total_paid, days_late)
       SELECT date_trunc('month', paid_on)::date, count(*), count(*) FILTER (WHERE paid_days_late = 0), sum(amount),
              sum(penalty), sum(total_paid), sum(paid_days_late)
       FROM analytics_payables WHERE paid_on IS NOT NULL GROUP BY 1""",
    """INSERT INTO analytics_capitation (month, kode_faskes, facility_type, ownership, registered_members, rate,
                                        base_amount, kbk_score, kbk_percentage, amount, due_on, run_id)
       SELECT m, 'F' || lpad(f::text, 7, '0'), 'puskesmas', 'pemda', 5000 + f % 9000, 6000,
              (5000 + f % 9000) * 6000, (f % 5)::float8, (ARRAY[100, 95, 92.5, 90, 90])[f % 5 + 1],
              round((5000 + f % 9000) * 6000 * (ARRAY[100, 95, 92.5, 90, 90])[f % 5 + 1] / 100), m + 14,
              'CAP-' || to_char(m, 'YYYY-MM')
       FROM generate_series(date '2026-01-01', date '2026-12-01', interval '1 month') AS g(m0),
            LATERAL (SELECT m0::date AS m) mm, generate_series(1, 23000) AS f""",
    "ANALYZE",
]


async def load(conn: asyncpg.Connection[Any], claims: int) -> dict[str, float]:
    """COPY the facts, build the aggregates; seconds per step."""
    took: dict[str, float] = {}
    t = time.perf_counter()
    rows = facts(claims)
    took["generate_s"] = time.perf_counter() - t
    t = time.perf_counter()
    await conn.copy_records_to_table("analytics_claims", records=rows, columns=list(FACT_COLUMNS))
    took["copy_s"] = time.perf_counter() - t
    t = time.perf_counter()
    for statement in BUILD_AGGREGATES:
        await conn.execute(statement)
    took["aggregates_s"] = time.perf_counter() - t
    return took


async def timed(run: Callable[[], Awaitable[object]], repeat: int = 7) -> dict[str, float]:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        await run()
        times.append((time.perf_counter() - t) * 1000)
    return {"median_ms": round(statistics.median(times), 2), "max_ms": round(max(times), 2)}


async def query_times(conn: asyncpg.Connection[Any]) -> dict[str, dict[str, float]]:
    month, hospital, today = date(2026, 11, 1), HOSPITALS[7], date(2026, 11, 16)
    until = WorkingCalendar().add_working_days(today, 3)
    runs: dict[str, Callable[[], Awaitable[object]]] = {
        "tariff-gap (one month, the page's 200 widest)": lambda: queries.tariff_gap(conn, month, None, PAGE),
        "tariff-gap (every month, the page's 200 widest)": lambda: queries.tariff_gap(conn, None, None, PAGE),
        "tariff-gap (one month, every row: the CSV)": lambda: queries.tariff_gap(conn, month),
        "tariff-gap (one month, one hospital)": lambda: queries.tariff_gap(conn, month, hospital),
        "top-diagnoses (one month)": lambda: queries.top_diagnoses(conn, month),
        "top-diagnoses (one month, one hospital)": lambda: queries.top_diagnoses(conn, month, hospital),
        "top-diagnoses (every month)": lambda: queries.top_diagnoses(conn, None),
        "pending-rate (one month)": lambda: queries.pending_rate(conn, month),
        "pending-rate (every month)": lambda: queries.pending_rate(conn, None),
        "payments-timeliness (every month)": lambda: queries.payment_months(conn, None),
        "capitation (one month, the page's 200 lowest KBK)": lambda: queries.capitation(conn, month, PAGE),
        "capitation (one month, 23,000 FKTPs: the CSV)": lambda: queries.capitation(conn, month),
        "months (selector)": lambda: queries.months(conn),
        "operations: deadlines within 3 working days": lambda: operations_queries.deadlines(conn, today, until),
        "operations: overdue payables": lambda: operations_queries.overdue_payables(conn, today),
        "page: tariff-gap report + SVG chart": lambda: _page(conn, month),
    }
    return {name: await timed(run) for name, run in runs.items()}


async def _page(conn: asyncpg.Connection[Any], month: date) -> None:
    report = await build_report("tariff-gap", conn, month, limit=PAGE)
    render_chart(report, "id", "svg")


def events(batches: int, size: int) -> list[list[Envelope]]:
    """Batches of grouped + verified events for new claims and for claims already in the read model."""
    grouped_doc = json.loads((EXAMPLES / "ClaimGrouped.json").read_text())
    verified_doc = json.loads((EXAMPLES / "ClaimVerified.json").read_text())
    out = []
    for b in range(batches):
        batch: list[Envelope] = []
        for i in range(size // 2):
            claim_id = f"N{b:04d}{i:05d}" if i % 2 else f"C{(b * size + i) * 7 % 1_000_000:08d}"
            g = json.loads(json.dumps(grouped_doc))
            g |= {"event_id": str(uuid.uuid4()), "claim_id": claim_id}
            g["payload"]["claim"]["kode_rs"] = HOSPITALS[i % len(HOSPITALS)]
            v = json.loads(json.dumps(verified_doc))
            v |= {"event_id": str(uuid.uuid4()), "claim_id": claim_id}
            batch += [parse_event_obj(g), parse_event_obj(v)]
        batch.sort(key=lambda e: type(e).__name__)  # a batch arrives in runs of one type
        out.append(batch)
    return out


async def projection(conn: asyncpg.Connection[Any], schema: str, batches: int, size: int) -> dict[str, float]:
    """Batches through the real application and unit of work (what the consumer runs, minus the broker)."""
    app = application(WorkingCalendar(), PolicySettings())
    work = events(batches, size)
    times = []
    for batch in work:
        t = time.perf_counter()
        async with conn.transaction():
            tx = Tx(conn, schema)
            uow = AnalyticsUnitOfWork(tx)
            assert app.prepare is not None
            await app.prepare(tx, batch)
            await app.handle(uow, batch)
            await uow.flush()
        times.append(time.perf_counter() - t)
    total = sum(times)
    return {"batches": batches, "batch_size": size, "events_per_s": round(batches * size / total),
            "median_batch_ms": round(statistics.median(times) * 1000, 1),
            "max_batch_ms": round(max(times) * 1000, 1)}  # fmt: skip


async def measure(dsn: str, claims: int) -> dict[str, Any]:
    schema = f"bench_console_{uuid.uuid4().hex[:6]}"
    await db.migrate(dsn, schema, MIGRATIONS)
    conn: asyncpg.Connection[Any] = await asyncpg.connect(dsn, server_settings={"search_path": schema})
    try:
        loaded = await load(conn, claims)
        tables = ("analytics_claims", "analytics_gap", "analytics_gap_all", "analytics_diagnoses",
                  "analytics_diagnoses_national", "analytics_pending",
                  "analytics_payables", "analytics_payment_months", "analytics_capitation")  # fmt: skip
        sizes = {t: int(await conn.fetchval(f"SELECT count(*) FROM {t}")) for t in tables}
        queries_ms = await query_times(conn)
        projected = await projection(conn, schema, 20, 500)
        queries_after = await timed(lambda: queries.tariff_gap(conn, date(2026, 11, 1), None, PAGE))
    finally:
        await conn.close()
    return {"load": {k: round(v, 1) for k, v in loaded.items()}, "rows": sizes, "queries": queries_ms,
            "projection": projected, "tariff_gap_after_projection": queries_after}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=1_000_000)
    args = parser.parse_args()
    stack = start_stack(durable=True, topics=False)
    load_before = os.getloadavg()
    try:
        figures = asyncio.run(measure(stack.database_url, args.claims))
    finally:
        stack.stop()
    # Others' work on the machine slows every figure: the load average says how quiet it was.
    load_average = {"before": round(load_before[0], 1), "after": round(os.getloadavg()[0], 1)}
    result = {
        "bench": "console-read-model",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "claims": args.claims,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "stack": stack.kind,
            "load_average_1m": load_average,
        },
        **figures,
        "note": "report queries over the pre-aggregated tables with the given number of claims in the read model; "
        "median and worst of 7 runs; projection = batches of 500 events (grouped + verified, half for claims "
        "already stored) through the consumer's application and unit of work on the same database",
        "reports": list(analytics.REPORTS),
    }
    RESULT_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULT_FILE.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
