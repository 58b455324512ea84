"""The console's analytics against figures computed by hand, on a small fixed data set.

Real contract events go onto the broker, the real analytics consumer (group console-analytics) folds them
into the read model on a real PostgreSQL, and the reports are read back: the tariff gap by CBG and hospital,
the top-10 diagnoses in order with their severity mix, the pending rate against 5 %, payments by month and
capitation. The events are published topic by topic (a claim's pend before its grouping, its second
revision before its first), so the figures cannot depend on the order they arrive in.
`claimsctl report ... --csv --png` then writes both files from the same read model.

The data set (discharge month 2026-11 unless said; tarif RS / INA-CBG tariff in rupiah):
  RS A 0301R001  A1 K-1-13-I   K35.9  6,550,000 / 5,634,100  verified 5,634,100, paid on time 2026-11-30
                 A2 rev 0 K-1-13-III K35.9 9,500,000 / 12,395,000, pended; rev 1 K-1-13-II 9,000,000 / 8,451,200,
                    verified (adjusted) 8,000,000
                 A3 I-4-10-I   I10    3,000,000 / 3,500,000  verified 3,500,000, paid on time 2026-12-10
                 D1 (October) K-1-13-I K35.9 6,000,000 / 5,634,100 verified: outside --month 2026-11
  RS B 0301R002  B1 K-1-13-I   K35.8  7,000,000 / 5,634,100  verified 5,634,100, paid 10 days late 2026-12-10
                 B2 K-1-13-I   K35.9  5,000,000 / 5,634,100  rejected (tidak layak)
                 B3 J-4-16-III J18.9 20,000,000 / 12,395,000 pended, not resubmitted
                 B4 K-1-13-I   K35.8  6,000,000 / 5,634,100  verified 5,634,100, unpaid and overdue
                 E1..E8 Q-5-44-0 outpatient, 8 diagnoses worth 1,000,000 down to 300,000 (bill = tariff), undecided
  RS C 0301R003  C1 K-1-13-I   K36    5,634,100 / 5,634,100  verified 5,634,100
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from fastapi import FastAPI
from typer.testing import CliRunner

from deploy.local import Stack
from services.console.adapters import analytics_queries as queries
from services.console.application.analytics import build_report
from services.console.entrypoints import analytics_pages
from services.console.entrypoints.analytics_consumer import ANALYTICS_CONSUMES
from services.console.entrypoints.session import ConsoleEnv, SignedIn, current_operator, templates_environment
from services.console.report_cli import register
from shared import db
from shared.application import runs
from shared.db import Pool
from shared.events import Envelope, parse_event_obj
from shared.runtime import ServiceSpec
from shared.settings import get_settings
from tests.support.factories import example
from tests.support.kafka import eventually
from tests.support.services import Lane, new_lane, running

pytestmark = pytest.mark.integration

MIGRATIONS = Path(__file__).resolve().parents[3] / "services" / "console" / "migrations"
A, B, C = "0301R001", "0301R002", "0301R003"
NOV, OCT = date(2026, 11, 1), date(2026, 10, 1)
EXTRAS = [("A09", 1_000_000), ("A90", 900_000), ("E11.9", 800_000), ("B34.9", 700_000), ("R50.9", 600_000),
          ("N39.0", 500_000), ("L03.1", 400_000), ("M54.5", 300_000)]  # fmt: skip


def _event(event_type: str, claim_id: str, payload: dict[str, Any]) -> Envelope:
    doc = example(event_type)
    doc["event_id"] = str(uuid.uuid4())
    doc["claim_id"] = claim_id
    doc["payload"].update(payload)
    return parse_event_obj(doc)


def grouped(claim_id: str, kode_rs: str, cbg: str, dx: str, bill: int, tariff: int, *, revision: int = 0,
            discharged: str = "2026-11-06", inpatient: bool = True,
            submitted_on: str = "2026-11-09") -> Envelope:  # fmt: skip
    doc = example("ClaimGrouped")
    claim = doc["payload"]["claim"] | {
        "kode_rs": kode_rs, "diagnosa": [dx], "tgl_pulang": discharged, "tarif_rs": {"prosedur_bedah": bill},
        "jenis_rawat": 1 if inpatient else 2,
    }  # fmt: skip
    severity = cbg.rsplit("-", 1)[1]
    grouping = doc["payload"]["grouping"] | {
        "cbg_code": cbg, "severity": severity, "tarif_kelas": tariff, "total_tarif": tariff, "tarif_rs_total": bill,
        "tariff_gap": bill - tariff,
    }  # fmt: skip
    payload = {"revision": revision, "submitted_on": submitted_on, "claim": claim, "grouping": grouping}
    return _event("ClaimGrouped", claim_id, payload)


def submitted(claim_id: str, kode_rs: str, revision: int) -> Envelope:
    claim = example("ClaimSubmitted")["payload"]["claim"] | {"kode_rs": kode_rs}
    return _event("ClaimSubmitted", claim_id, {"revision": revision, "claim": claim})


def pended(claim_id: str, kode_rs: str, revision: int = 0, resubmit_by: str = "2026-11-19") -> Envelope:
    return _event("ClaimPended", claim_id, {"revision": revision, "kode_rs": kode_rs, "resubmit_by": resubmit_by})


def verified(claim_id: str, kode_rs: str, approved: int, *, revision: int = 0, on: str = "2026-11-10") -> Envelope:
    return _event("ClaimVerified", claim_id, {"revision": revision, "kode_rs": kode_rs, "approved_amount": approved,
                                              "claimed_amount": approved, "verified_on": on})  # fmt: skip


def rejected(claim_id: str, kode_rs: str, *, refusal: bool = False) -> Envelope:
    return _event("ClaimRejected", claim_id, {"kode_rs": kode_rs, "stage": "verifier", "refusal": refusal})


def paid(claim_id: str, kode_rs: str, approved: int, *, on: str, due: str, late: int, penalty: int) -> Envelope:
    return _event("ClaimPaid", claim_id, {
        "kode_rs": kode_rs, "approved_amount": approved, "penalty": penalty, "total_paid": approved + penalty,
        "net_paid": approved + penalty, "paid_on": on, "due_on": due, "days_late": late,
        "payment_id": f"PAY-{claim_id}",
    })  # fmt: skip


def overdue(claim_id: str, kode_rs: str, amount: int, *, as_of: str, late: int, penalty: int,
            due: str = "2026-12-01") -> Envelope:  # fmt: skip
    fields = {"kode_rs": kode_rs, "amount": amount, "due_on": due, "as_of": as_of, "days_late": late,
              "accrued_penalty": penalty}  # fmt: skip
    return _event("PaymentOverdue", claim_id, fields)


def capitation(kode_faskes: str, kind: str, members: int, rate: int, score: float | None, pct: float) -> Envelope:
    doc = example("CapitationPaid")
    base = members * rate
    amount = round(base * pct / 100)
    doc["event_id"] = str(uuid.uuid4())
    doc["payload"] |= {"month": "2026-11", "kode_faskes": kode_faskes, "facility_type": kind,
                       "registered_members": members, "rate": rate, "base_amount": base, "kbk_score": score,
                       "kbk_percentage": pct, "amount": amount, "ownership": "swasta", "service_fee_part": None,
                       "operations_part": None}  # fmt: skip
    return parse_event_obj(doc)


def data_set() -> list[Envelope]:
    """Every event of the data set, in the order published (see the module docstring)."""
    events = [
        # Outcomes first: the projection has to keep them until the grouping arrives.
        pended("A2", A),
        verified("A2", A, 8_000_000, revision=1),
        pended("B3", B),
        verified("A1", A, 5_634_100),
        rejected("A1", A, refusal=True),  # a refused late dispute changes nothing
        verified("A3", A, 3_500_000),
        verified("B1", B, 5_634_100),
        verified("B4", B, 5_634_100),
        verified("C1", C, 5_634_100),
        verified("D1", A, 5_634_100),
        rejected("B2", B),
        # The second revision of A2 before the first: the first must not overwrite it.
        grouped("A2", A, "K-1-13-II", "K35.9", 9_000_000, 8_451_200, revision=1),
        grouped("A2", A, "K-1-13-III", "K35.9", 9_500_000, 12_395_000),
        submitted("A2", A, 1),
        grouped("A1", A, "K-1-13-I", "K35.9", 6_550_000, 5_634_100),
        grouped("A3", A, "I-4-10-I", "I10", 3_000_000, 3_500_000),
        grouped("D1", A, "K-1-13-I", "K35.9", 6_000_000, 5_634_100, discharged="2026-10-20"),
        grouped("B1", B, "K-1-13-I", "K35.8", 7_000_000, 5_634_100),
        grouped("B2", B, "K-1-13-I", "K35.9", 5_000_000, 5_634_100),
        grouped("B3", B, "J-4-16-III", "J18.9", 20_000_000, 12_395_000),
        grouped("B4", B, "K-1-13-I", "K35.8", 6_000_000, 5_634_100),
        grouped("C1", C, "K-1-13-I", "K36", 5_634_100, 5_634_100),
        *(
            grouped(f"E{i}", B, "Q-5-44-0", dx, value, value, inpatient=False)
            for i, (dx, value) in enumerate(EXTRAS, 1)
        ),
        paid("A1", A, 5_634_100, on="2026-11-30", due="2026-12-01", late=0, penalty=0),
        paid("A3", A, 3_500_000, on="2026-12-10", due="2026-12-11", late=0, penalty=0),
        # 5,634,100 x 1 % x 10 / 30 = 18,780.33 -> 18,780 (daily pro rata, half up)
        paid("B1", B, 5_634_100, on="2026-12-10", due="2026-11-30", late=10, penalty=18_780),
        # The same payment reported twice (another event id): counted once.
        paid("B1", B, 5_634_100, on="2026-12-10", due="2026-11-30", late=10, penalty=18_780),
        overdue("B4", B, 5_634_100, as_of="2026-12-03", late=2, penalty=3_756),
        overdue("B4", B, 5_634_100, as_of="2026-12-02", late=1, penalty=1_878),  # older report, arriving later
        capitation("0301P001", "puskesmas", 12_000, 6_000, 4.0, 100.0),
        capitation("0301K002", "klinik_pratama", 5_000, 10_000, 2.5, 92.5),
    ]
    return events


@dataclass
class World:
    lane: Lane
    spec: ServiceSpec
    pool: Pool
    dsn: str


@pytest.fixture(scope="module")
async def world(stack: Stack) -> AsyncIterator[World]:
    lane = await new_lane(stack)
    spec = lane.isolate(ServiceSpec("console", "console", MIGRATIONS, [ANALYTICS_CONSUMES]))
    async with running(spec, lane.settings()):
        for run in runs(data_set()):  # run by run, so the order across topics is the one written above
            await lane.publish(run)

        async def applied() -> bool:
            return await lane.consumed(spec)

        await eventually(applied, within=30)
    pool = await db.create_pool(stack.database_url, spec.schema, max_size=2)
    try:
        yield World(lane, spec, pool, stack.database_url)
    finally:
        await pool.close()


async def test_tariff_gap_by_cbg_and_hospital_matches_the_hand_computed_figures(world: World) -> None:
    async with world.pool.acquire() as conn:
        rows = await queries.tariff_gap(conn, NOV)
    found = [(r.cbg_code, r.kode_rs, r.claims, r.tarif_rs, r.grouped_tarif, r.gap, r.verified, r.approved,
              r.approved_gap) for r in rows]  # fmt: skip
    assert found == [
        # B3: 20,000,000 - 12,395,000 = 7,605,000; not verified
        ("J-4-16-III", B, 1, 20_000_000, 12_395_000, 7_605_000, 0, 0, 0),
        # B1 + B2 + B4: 7,000,000 + 5,000,000 + 6,000,000 = 18,000,000 against 3 x 5,634,100 = 16,902,300
        # -> 1,097,700; verified B1 + B4: 13,000,000 - 11,268,200 approved = 1,731,800
        ("K-1-13-I", B, 3, 18_000_000, 16_902_300, 1_097_700, 2, 11_268_200, 1_731_800),
        # A1: 6,550,000 - 5,634,100 = 915,900 (D1 is October)
        ("K-1-13-I", A, 1, 6_550_000, 5_634_100, 915_900, 1, 5_634_100, 915_900),
        # A2 at its second revision only: 9,000,000 - 8,451,200 = 548,800; approved 8,000,000 -> 1,000,000
        ("K-1-13-II", A, 1, 9_000_000, 8_451_200, 548_800, 1, 8_000_000, 1_000_000),
        # C1 and the outpatient extras (bill = tariff): no gap; ties in CBG then hospital order
        ("K-1-13-I", C, 1, 5_634_100, 5_634_100, 0, 1, 5_634_100, 0),
        # 1,000,000 + 900,000 + ... + 300,000 = 5,200,000
        ("Q-5-44-0", B, 8, 5_200_000, 5_200_000, 0, 0, 0, 0),
        # A3: 3,000,000 - 3,500,000 = -500,000
        ("I-4-10-I", A, 1, 3_000_000, 3_500_000, -500_000, 1, 3_500_000, -500_000),
    ]
    async with world.pool.acquire() as conn:
        every_month = await queries.tariff_gap(conn, None, A)
    # With October: A's K-1-13-I adds D1: 6,550,000 + 6,000,000 = 12,550,000 - 2 x 5,634,100 = 1,281,800
    assert [(r.cbg_code, r.claims, r.gap) for r in every_month] == [
        ("K-1-13-I", 2, 1_281_800), ("K-1-13-II", 1, 548_800), ("I-4-10-I", 1, -500_000)]  # fmt: skip


async def test_the_top_ten_diagnoses_by_claim_value_in_order_with_their_severity_mix(world: World) -> None:
    async with world.pool.acquire() as conn:
        rows = await queries.top_diagnoses(conn, NOV)
    assert [(r.primary_dx, r.claims, r.value) for r in rows] == [
        ("K35.9", 3, 19_719_400),  # A1 5,634,100 + A2 (rev 1) 8,451,200 + B2 5,634,100
        ("J18.9", 1, 12_395_000),  # B3
        ("K35.8", 2, 11_268_200),  # B1 + B4, 2 x 5,634,100
        ("K36", 1, 5_634_100),  # C1
        ("I10", 1, 3_500_000),  # A3
        ("A09", 1, 1_000_000), ("A90", 1, 900_000), ("E11.9", 1, 800_000), ("B34.9", 1, 700_000),
        ("R50.9", 1, 600_000),  # the tenth: N39.0, L03.1 and M54.5 fall outside
    ]  # fmt: skip
    k359 = rows[0]
    # K35.9 nationally: A1 I, A2 II (its first revision's III replaced), B2 I -> 2/3, 1/3, 0
    assert dict(k359.counts) == {"I": 2, "II": 1, "III": 0}
    assert k359.mix() == {"I": 2 / 3, "II": 1 / 3, "III": 0.0}
    async with world.pool.acquire() as conn:
        (hospital_a_first, *_) = await queries.top_diagnoses(conn, NOV, A)
    # At RS A, K35.9 is A1 (I) and A2 (II): half and half, against the national 2/3 and 1/3
    assert (hospital_a_first.primary_dx, hospital_a_first.value) == ("K35.9", 14_085_300)
    assert hospital_a_first.mix() == {"I": 0.5, "II": 0.5, "III": 0.0}
    assert hospital_a_first.national_mix() == {"I": 2 / 3, "II": 1 / 3, "III": 0.0}


async def test_pending_rate_per_hospital_against_the_five_percent_target(world: World) -> None:
    async with world.pool.acquire() as conn:
        rows = await queries.pending_rate(conn, NOV)
    assert [(r.kode_rs, r.claims, r.first_decided, r.first_pended, r.rate, r.meets_target) for r in rows] == [
        (A, 3, 3, 1, 1 / 3, False),  # A1 verified, A2 pended at revision 0 (verified later), A3 verified
        (B, 12, 4, 1, 1 / 4, False),  # B1, B4 verified, B2 rejected, B3 pended; the 8 extras are undecided
        (C, 1, 1, 0, 0.0, True),  # C1 verified: 0 % is below 5 %
    ]


async def test_payments_by_month_and_capitation_by_facility(world: World) -> None:
    async with world.pool.acquire() as conn:
        months = await queries.payment_months(conn, None)
        caps = await queries.capitation(conn, NOV)
    assert [
        (m.month, m.payments, m.on_time, m.on_time_rate, m.penalty, m.total_paid, m.avg_days_late) for m in months
    ] == [
        (date(2026, 11, 1), 1, 1, 1.0, 0, 5_634_100, None),  # A1
        # A3 on time, B1 10 days late once (its duplicate skipped): 3,500,000 + 5,634,100 + 18,780 = 9,152,880
        (date(2026, 12, 1), 2, 1, 0.5, 18_780, 9_152_880, 10.0),
    ]
    assert [(c.kode_faskes, c.kbk_score, c.kbk_percentage, c.base_amount, c.amount) for c in caps] == [
        ("0301K002", 2.5, 92.5, 50_000_000, 46_250_000),  # 5,000 x 10,000 x 92.5 %
        ("0301P001", 4.0, 100.0, 72_000_000, 72_000_000),  # 12,000 x 6,000
    ]
    async with world.pool.acquire() as conn:
        (b4,) = await conn.fetch("SELECT * FROM analytics_payables WHERE claim_id = 'B4'")
        (a2,) = await conn.fetch("SELECT status, resubmit_by FROM analytics_claims WHERE claim_id = 'A2'")
        (b3,) = await conn.fetch("SELECT status, resubmit_by FROM analytics_claims WHERE claim_id = 'B3'")
    # The latest overdue report wins whatever order they came in; the payments service's due date replaces ours.
    assert (b4["overdue_as_of"], b4["days_late"], b4["accrued_penalty"], b4["due_on"], b4["paid_on"]) == (
        date(2026, 12, 3), 2, 3_756, date(2026, 12, 1), None)  # fmt: skip
    assert (a2["status"], b3["status"], b3["resubmit_by"]) == ("verified", "pended", date(2026, 11, 19))


async def test_the_report_model_carries_the_same_figures(world: World) -> None:
    async with world.pool.acquire() as conn:
        report = await build_report("pending-rate", conn, NOV)
    assert [row[:4] for row in report.rows] == [(A, 3, 3, 1), (B, 12, 4, 1), (C, 1, 1, 0)]
    assert report.chart.target == 5.0


def claimsctl(world: World, *args: str) -> tuple[int, str]:
    """`claimsctl report ...` on the test's schema: exit code and stdout (errors: stderr)."""
    get_settings.cache_clear()  # read DATABASE_URL as the stack fixture set it
    root = typer.Typer()
    register(root)
    result = CliRunner().invoke(root, ["report", *args, "--schema", world.spec.schema])
    return result.exit_code, result.stdout if result.exit_code == 0 else result.stderr


def test_claimsctl_report_writes_the_csv_and_the_png(world: World, tmp_path: Path) -> None:
    table, chart = tmp_path / "gap.csv", tmp_path / "gap.png"
    code, out = claimsctl(world, "tariff-gap", "--month", "2026-11", "--csv", str(table), "--png", str(chart))
    assert code == 0, out
    with table.open(encoding="utf-8") as f:
        lines = list(csv.reader(f))
    assert lines[0][:6] == ["Kode CBG", "Kode RS", "Jumlah klaim", "Tarif RS", "Tarif INA-CBG", "Selisih"]
    assert lines[1][:6] == ["J-4-16-III", B, "1", "20000000", "12395000", "7605000"]
    assert len(lines) == 1 + 7
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, out = claimsctl(world, "pending-rate", "--month", "2026-11", "--lang", "en")
    assert code == 0, out
    assert out.splitlines() == [
        "Hospital,Claims,First submissions decided,First submissions pended,Rate,Meets target",
        f"{A},3,3,1,0.3333,0",
        f"{B},12,4,1,0.2500,0",
        f"{C},1,1,0,0.0000,1",
    ]


def console_app(pool: Pool, language: str = "id") -> FastAPI:
    """The analytics router as the console mounts it, signed in as an operator of the registry."""
    app = FastAPI()
    app.include_router(analytics_pages.router)
    app.state.console = ConsoleEnv(templates_environment(), None, {}, session_lookup=_no_session)
    app.state.pool = lambda: pool
    app.dependency_overrides[current_operator] = lambda: SignedIn("ops.rina", ("reviewer",), language)
    return app


async def _no_session(hashed: bytes, now: datetime) -> None:
    return None


async def test_the_pages_show_the_figures_in_rupiah_and_offer_csv_png_and_svg(world: World) -> None:
    transport = httpx.ASGITransport(console_app(world.pool))
    async with httpx.AsyncClient(transport=transport, base_url="http://console") as http:
        page = await http.get("/analytics/tariff-gap", params={"month": "2026-11"})
        assert page.status_code == 200
        assert "Selisih tarif RS vs INA-CBG" in page.text and "Rp\u00a07.605.000" in page.text  # no-break space
        assert 'href="/analytics/tariff-gap.png?month=2026-11&amp;lang=id"' in page.text
        index = await http.get("/analytics")  # every report's chart, for the latest month with claims
        assert index.text.count('<section class="card" data-report=') == 5
        assert 'src="/analytics/tariff-gap.svg?month=2026-11&amp;lang=id"' in index.text
        latest = await http.get("/analytics/pending-rate")  # no month: the latest with claims, 2026-11
        assert "2026-11" in latest.text and "33,3\u00a0%" in latest.text and "25,0\u00a0%" in latest.text
        table = await http.get("/analytics/tariff-gap.csv", params={"month": "2026-11"})
        assert table.headers["content-type"].startswith("text/csv")
        assert table.text.splitlines()[1].startswith("J-4-16-III,0301R002,1,20000000,12395000,7605000")
        png = await http.get("/analytics/top-diagnoses.png", params={"month": "2026-11"})
        assert (png.headers["content-type"], png.content[:4]) == ("image/png", b"\x89PNG")
        svg = await http.get("/analytics/top-diagnoses.svg", params={"month": "2026-11"})
        assert svg.headers["content-type"].startswith("image/svg+xml") and b"<svg" in svg.content
        assert (await http.get("/analytics/no-such-report")).status_code == 404
    english = httpx.ASGITransport(console_app(world.pool, "en"))
    async with httpx.AsyncClient(transport=english, base_url="http://console") as http:
        page = await http.get("/analytics/pending-rate", params={"month": "2026-11"})
        assert "Pending rate per hospital (target &lt; 5 %)" in page.text and "33.3\u00a0%" in page.text
