"""Analytics rules, pure: a claim's facts folded from events in any order, what each claim contributes to the
pre-aggregated figures, and the figures themselves (tariff gap, top diagnoses, pending rate, payments,
capitation) with their labels in Indonesian and English.

Order independence: events of one claim travel on different topics, so they arrive in any order. Each event
sets only the fields it knows; claim data and grouping come from the highest revision seen; the claim's
status is the step with the highest (revision, rank); first-submission flags are ORs. Folding the same
events in any order gives the same facts, and the aggregates are a function of the facts alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Literal, TypeVar

from services.console.domain.formatting import rupiah

# The pending-rate target: seed 001 (../shared/seeds/001_66a0942368acc5e2.txt, "Strategi Optimalisasi"):
# facilities using the standard checklist bring the initial claim rejection rate ("tingkat penolakan klaim
# awal") below 5 %, and the next section names that rejection "klaim pending". So the pending rate is the
# share of first submissions (revision 0) the verifier pended, among first submissions decided.
PENDING_TARGET = 0.05

TERMINAL = 1_000_000  # steps after verification (dispute, supplementary, payment) outrank every revision
SEVERITIES: tuple[str, ...] = ("I", "II", "III")

Language = Literal["id", "en"]


def severity_of(cbg_code: str) -> str:
    """The severity an INA-CBG code X-Y-ZZ-S ends with: I, II, III (inpatient), 0 (outpatient), else X (error).

    The last segment, not the last letter: II and III also end with I.
    """
    last = cbg_code.rsplit("-", 1)[-1].strip().upper()
    return last if last in ("0", *SEVERITIES) else "X"


def icd10(code: str) -> str:
    """A diagnosis in one spelling (K358 and K35.8 are the same code): upper case, dotted after three."""
    code = code.strip().upper()
    if "." not in code and len(code) > 3:
        code = f"{code[:3]}.{code[3:]}"
    return code


def month_of(d: date) -> date:
    return d.replace(day=1)


def parse_month(text: str | None) -> date | None:
    """`2026-11` as its first day; None for no filter."""
    if not text:
        return None
    year, _, month = text.partition("-")
    return date(int(year), int(month), 1)


# --------------------------------------------------------------------------- claim facts


@dataclass(frozen=True)
class ClaimFacts:
    claim_id: str
    kode_rs: str | None = None
    month: date | None = None
    data_revision: int = -1
    grouped_revision: int = -1
    cbg_code: str | None = None
    severity: str | None = None
    primary_dx: str | None = None
    tarif_rs: int | None = None
    grouped_tarif: int | None = None
    submitted_on: date | None = None
    deemed_complete_on: date | None = None
    status: str = "unknown"
    status_revision: int = -1
    status_rank: int = -1
    first_decided: bool = False
    first_pended: bool = False
    resubmit_by: date | None = None
    verified_on: date | None = None
    approved: int | None = None
    supplementary: int = 0


def _step(f: ClaimFacts, status: str, revision: int, rank: int) -> ClaimFacts:
    """The status moves to `status` only if this step is later than the latest one known (ties keep it)."""
    if (revision, rank) > (f.status_revision, f.status_rank):
        return replace(f, status=status, status_revision=revision, status_rank=rank)
    return f


def with_claim_data(f: ClaimFacts, revision: int, kode_rs: str, discharged: date) -> ClaimFacts:
    """A revision's claim data (from ClaimSubmitted or ClaimGrouped): the highest revision's wins."""
    if revision >= f.data_revision:
        f = replace(f, kode_rs=kode_rs, month=month_of(discharged), data_revision=revision)
    return f


def submitted(f: ClaimFacts, revision: int, kode_rs: str, discharged: date) -> ClaimFacts:
    return _step(with_claim_data(f, revision, kode_rs, discharged), "submitted", revision, 0)


def grouped(
    f: ClaimFacts,
    revision: int,
    kode_rs: str,
    discharged: date,
    *,
    cbg_code: str,
    diagnoses: Sequence[str],
    tarif_rs: int,
    grouped_tarif: int,
    submitted_on: date,
    deemed_complete_on: date,
) -> ClaimFacts:
    f = with_claim_data(f, revision, kode_rs, discharged)
    if revision >= f.grouped_revision:
        f = replace(
            f,
            grouped_revision=revision,
            cbg_code=cbg_code,
            severity=severity_of(cbg_code),
            primary_dx=icd10(diagnoses[0]) if diagnoses else "-",
            tarif_rs=tarif_rs,
            grouped_tarif=grouped_tarif,
            submitted_on=submitted_on,
            deemed_complete_on=deemed_complete_on,
        )
    return _step(f, "grouped", revision, 1)


def _first(f: ClaimFacts, revision: int, *, pended: bool) -> ClaimFacts:
    if revision != 0:
        return f
    return replace(f, first_decided=True, first_pended=f.first_pended or pended)


def pended(f: ClaimFacts, revision: int, kode_rs: str, resubmit_by: date) -> ClaimFacts:
    f = _first(replace(f, kode_rs=f.kode_rs or kode_rs), revision, pended=True)
    before = f.status_revision, f.status_rank
    f = _step(f, "pended", revision, 2)
    # The resubmission deadline of the latest pend (a pend of an older revision does not move it).
    if (f.status_revision, f.status_rank) != before or f.resubmit_by is None:
        f = replace(f, resubmit_by=resubmit_by)
    return f


def rejected(f: ClaimFacts, revision: int, kode_rs: str, *, refusal: bool, stage: str = "verifier") -> ClaimFacts:
    """A rejection of the claim (tidak layak); a refusal of one event leaves the claim as it was. Only the
    verifier's count as a first-submission decision: the grouper refusing unreadable data is not a verification."""
    if refusal:
        return f
    f = replace(f, kode_rs=f.kode_rs or kode_rs)
    return _step(_first(f, revision, pended=False) if stage == "verifier" else f, "rejected", revision, 3)


def verified(
    f: ClaimFacts, revision: int, kode_rs: str, seq: int, verified_on: date, approved_amount: int
) -> ClaimFacts:
    f = replace(f, kode_rs=f.kode_rs or kode_rs)
    if seq == 0:
        f = replace(f, verified_on=verified_on, approved=approved_amount)
        return _step(_first(f, revision, pended=False), "verified", revision, 3)
    f = replace(f, supplementary=f.supplementary + approved_amount)
    return _step(f, "verified", TERMINAL, 5)


def dispute_resolved(f: ClaimFacts, kode_rs: str) -> ClaimFacts:
    return _step(replace(f, kode_rs=f.kode_rs or kode_rs), "dispute_resolved", TERMINAL, 4)


def paid(f: ClaimFacts, kode_rs: str) -> ClaimFacts:
    return _step(replace(f, kode_rs=f.kode_rs or kode_rs), "paid", TERMINAL, 6)


# --------------------------------------------------------------------------- contributions to the aggregates

GapKey = tuple[date, str, str]  # month, kode_rs, cbg_code
DiagnosisKey = tuple[date, str, str, str]  # month, primary_dx, kode_rs, severity
PendingKey = tuple[date, str]  # month, kode_rs
# claims, tarif_rs, grouped_tarif, verified, verified_rs, approved
GapFigures = tuple[int, ...]
DiagnosisFigures = tuple[int, ...]  # claims, grouped_tarif
PendingFigures = tuple[int, ...]  # claims, first_decided, first_pended
K = TypeVar("K")


@dataclass
class Deltas:
    """What a batch changes in each aggregate, summed by key (zero changes left out)."""

    gap: dict[GapKey, GapFigures]
    diagnoses: dict[DiagnosisKey, DiagnosisFigures]
    pending: dict[PendingKey, PendingFigures]


def _add(into: dict[K, tuple[int, ...]], key: K, figures: tuple[int, ...], sign: int) -> None:
    now = into.get(key, (0,) * len(figures))
    into[key] = tuple(a + sign * b for a, b in zip(now, figures, strict=True))


def _contribute(into: Deltas, f: ClaimFacts | None, sign: int) -> None:
    if f is None or f.month is None or f.kode_rs is None:
        return
    _add(into.pending, (f.month, f.kode_rs), (1, int(f.first_decided), int(f.first_pended)), sign)
    if f.cbg_code is None or f.tarif_rs is None or f.grouped_tarif is None:
        return
    is_verified = f.approved is not None
    approved = (f.approved or 0) + f.supplementary if is_verified else 0
    gap = (1, f.tarif_rs, f.grouped_tarif, int(is_verified), f.tarif_rs if is_verified else 0, approved)
    _add(into.gap, (f.month, f.kode_rs, f.cbg_code), gap, sign)
    dx_key = (f.month, f.primary_dx or "-", f.kode_rs, f.severity or "X")
    _add(into.diagnoses, dx_key, (1, f.grouped_tarif), sign)


def deltas(changes: Iterable[tuple[ClaimFacts | None, ClaimFacts]]) -> Deltas:
    """The aggregates' changes for (facts before, facts after) pairs: the old contribution out, the new in."""
    out = Deltas({}, {}, {})
    for before, after in changes:
        _contribute(out, before, -1)
        _contribute(out, after, +1)
    out.gap = {k: v for k, v in out.gap.items() if any(v)}
    out.diagnoses = {k: v for k, v in out.diagnoses.items() if any(v)}
    out.pending = {k: v for k, v in out.pending.items() if any(v)}
    return out


# --------------------------------------------------------------------------- figures


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def meets_pending_target(pended_first: int, decided_first: int) -> bool | None:
    """Below 5 % (seed 001 says "di bawah 5%"); None while nothing has been decided."""
    rate = share(pended_first, decided_first)
    return None if rate is None else rate < PENDING_TARGET


def severity_mix(counts: Mapping[str, int]) -> dict[str, float | None]:
    """Shares of I, II, III among the inpatient claims counted (outpatient '0' and errors left out)."""
    total = sum(counts.get(s, 0) for s in SEVERITIES)
    return {s: share(counts.get(s, 0), total) for s in SEVERITIES}


# Bands of the 2017 KBK score-to-payment table (DOMAIN.md, Capitation): the share paid names the band.
def kbk_band(percentage: float, score: float | None) -> str:
    if score is None:
        return "-"
    return f"{percentage:g} %"


# --------------------------------------------------------------------------- labels

LABELS: Mapping[str, Mapping[str, str]] = {
    "id": {
        "tariff-gap": "Selisih tarif RS vs INA-CBG per CBG dan rumah sakit",
        "top-diagnoses": "10 diagnosis dengan nilai klaim tertinggi",
        "pending-rate": "Rasio klaim pending per rumah sakit (target < 5 %)",
        "payments-timeliness": "Ketepatan waktu pembayaran dan denda per bulan",
        "capitation": "Kapitasi per FKTP dan skor KBK",
        "month": "Bulan",
        "all_months": "Semua bulan",
        "kode_rs": "Kode RS",
        "cbg_code": "Kode CBG",
        "claims": "Jumlah klaim",
        "tarif_rs": "Tarif RS",
        "grouped_tarif": "Tarif INA-CBG",
        "gap": "Selisih",
        "gap_pct": "Selisih (%)",
        "verified": "Klaim layak",
        "approved": "Disetujui",
        "approved_gap": "Selisih vs disetujui",
        "rank": "Peringkat",
        "primary_dx": "Diagnosis utama",
        "value": "Nilai klaim",
        "sev_I": "Ringan (I)",
        "sev_II": "Sedang (II)",
        "sev_III": "Berat (III)",
        "nat_I": "Nasional I",
        "nat_II": "Nasional II",
        "nat_III": "Nasional III",
        "first_decided": "Klaim awal diputus",
        "first_pended": "Klaim awal pending",
        "rate": "Rasio",
        "target": "Target",
        "meets": "Memenuhi target",
        "yes": "ya",
        "no": "tidak",
        "payments": "Pembayaran",
        "on_time": "Tepat waktu",
        "on_time_rate": "Rasio tepat waktu",
        "penalty": "Denda",
        "total_paid": "Total dibayar",
        "avg_days_late": "Rata-rata hari terlambat",
        "kode_faskes": "Kode FKTP",
        "facility_type": "Jenis FKTP",
        "registered_members": "Peserta terdaftar",
        "rate_rp": "Tarif kapitasi",
        "base_amount": "Kapitasi dasar",
        "kbk_score": "Skor KBK",
        "kbk_percentage": "Persentase KBK",
        "amount": "Dibayar",
        "no_data": "Belum ada data",
        "rupiah": "Rupiah",
    },
    "en": {
        "tariff-gap": "Hospital tariff vs INA-CBG gap by CBG and hospital",
        "top-diagnoses": "Top 10 diagnoses by claim value",
        "pending-rate": "Pending rate per hospital (target < 5 %)",
        "payments-timeliness": "On-time payment rate and penalties by month",
        "capitation": "Capitation by facility and KBK score",
        "month": "Month",
        "all_months": "All months",
        "kode_rs": "Hospital",
        "cbg_code": "CBG code",
        "claims": "Claims",
        "tarif_rs": "Hospital tariff",
        "grouped_tarif": "INA-CBG tariff",
        "gap": "Gap",
        "gap_pct": "Gap (%)",
        "verified": "Claims verified",
        "approved": "Approved",
        "approved_gap": "Gap vs approved",
        "rank": "Rank",
        "primary_dx": "Principal diagnosis",
        "value": "Claim value",
        "sev_I": "Mild (I)",
        "sev_II": "Moderate (II)",
        "sev_III": "Severe (III)",
        "nat_I": "National I",
        "nat_II": "National II",
        "nat_III": "National III",
        "first_decided": "First submissions decided",
        "first_pended": "First submissions pended",
        "rate": "Rate",
        "target": "Target",
        "meets": "Meets target",
        "yes": "yes",
        "no": "no",
        "payments": "Payments",
        "on_time": "On time",
        "on_time_rate": "On-time rate",
        "penalty": "Penalty",
        "total_paid": "Total paid",
        "avg_days_late": "Average days late",
        "kode_faskes": "FKTP code",
        "facility_type": "FKTP type",
        "registered_members": "Registered members",
        "rate_rp": "Capitation rate",
        "base_amount": "Base capitation",
        "kbk_score": "KBK score",
        "kbk_percentage": "KBK percentage",
        "amount": "Paid",
        "no_data": "No data yet",
        "rupiah": "Rupiah",
    },
}


def label(key: str, language: str) -> str:
    return LABELS.get(language, LABELS["id"]).get(key, key)


def percent(value: float | None, language: str = "id") -> str:
    """`4,5 %` in Indonesian, `4.5 %` in English; a dash for no value."""
    if value is None:
        return "–"
    text = f"{value * 100:.1f}"
    return f"{text.replace('.', ',') if language == 'id' else text} %"


# --------------------------------------------------------------------------- report rows


@dataclass(frozen=True)
class GapRow:
    cbg_code: str
    kode_rs: str
    claims: int
    tarif_rs: int
    grouped_tarif: int
    verified: int
    verified_rs: int
    approved: int

    @property
    def gap(self) -> int:
        """Hospital bill minus INA-CBG tariff grouped (positive: the hospital billed more than the package)."""
        return self.tarif_rs - self.grouped_tarif

    @property
    def gap_pct(self) -> float | None:
        return share(self.gap, self.grouped_tarif)

    @property
    def approved_gap(self) -> int:
        """The verified claims' bill minus what BPJS approved for them (after corrections and disputes)."""
        return self.verified_rs - self.approved


@dataclass(frozen=True)
class DiagnosisRow:
    primary_dx: str
    claims: int
    value: int  # INA-CBG tariff grouped, summed: the claim value the seed's audit ranks by
    counts: Mapping[str, int]  # claims by severity in the report's scope
    national: Mapping[str, int]  # claims with this diagnosis by severity, every hospital

    def mix(self) -> dict[str, float | None]:
        return severity_mix(self.counts)

    def national_mix(self) -> dict[str, float | None]:
        return severity_mix(self.national)


@dataclass(frozen=True)
class PendingRow:
    kode_rs: str
    claims: int
    first_decided: int
    first_pended: int

    @property
    def rate(self) -> float | None:
        return share(self.first_pended, self.first_decided)

    @property
    def meets_target(self) -> bool | None:
        return meets_pending_target(self.first_pended, self.first_decided)


@dataclass(frozen=True)
class PaymentMonthRow:
    month: date
    payments: int
    on_time: int
    approved: int
    penalty: int
    total_paid: int
    days_late: int  # summed over the late payments

    @property
    def on_time_rate(self) -> float | None:
        return share(self.on_time, self.payments)

    @property
    def avg_days_late(self) -> float | None:
        late = self.payments - self.on_time
        return self.days_late / late if late else None


@dataclass(frozen=True)
class CapitationRow:
    month: date
    kode_faskes: str
    facility_type: str
    registered_members: int
    rate: int
    base_amount: int
    kbk_score: float | None
    kbk_percentage: float
    amount: int


ColumnKind = Literal["text", "int", "rupiah", "percent", "float", "bool", "month"]


@dataclass(frozen=True)
class Column:
    key: str
    kind: ColumnKind


def _columns(pairs: Iterable[tuple[str, str]]) -> tuple[Column, ...]:
    kinds: tuple[ColumnKind, ...] = ("text", "int", "rupiah", "percent", "float", "bool", "month")
    return tuple(Column(key, next(k for k in kinds if k == kind)) for key, kind in pairs)


@dataclass(frozen=True)
class Chart:
    """A bar chart: one bar group per category, one bar per series; an optional target line."""

    categories: tuple[str, ...]
    series: tuple[tuple[str, tuple[float, ...]], ...]  # (label key, one value per category)
    y_label: str
    target: float | None = None  # drawn as a horizontal line (the 5 % pending target)
    horizontal: bool = False


@dataclass(frozen=True)
class Report:
    kind: str
    month: date | None
    columns: tuple[Column, ...]
    rows: tuple[tuple[object, ...], ...]
    chart: Chart


REPORTS = ("tariff-gap", "top-diagnoses", "pending-rate", "payments-timeliness", "capitation")


def tariff_gap_report(rows: Sequence[GapRow], month: date | None, chart_top: int = 15) -> Report:
    cols = ("cbg_code", "text"), ("kode_rs", "text"), ("claims", "int"), ("tarif_rs", "rupiah"), \
        ("grouped_tarif", "rupiah"), ("gap", "rupiah"), ("gap_pct", "percent"), ("verified", "int"), \
        ("approved", "rupiah"), ("approved_gap", "rupiah")  # fmt: skip
    table = tuple(
        (r.cbg_code, r.kode_rs, r.claims, r.tarif_rs, r.grouped_tarif, r.gap, r.gap_pct, r.verified, r.approved,
         r.approved_gap) for r in rows
    )  # fmt: skip
    top = rows[:chart_top]
    chart = Chart(
        tuple(f"{r.cbg_code} {r.kode_rs}" for r in top),
        (("gap", tuple(float(r.gap) for r in top)),),
        "rupiah",
        horizontal=True,
    )
    return Report("tariff-gap", month, _columns(cols), table, chart)


def top_diagnoses_report(rows: Sequence[DiagnosisRow], month: date | None) -> Report:
    cols = [("rank", "int"), ("primary_dx", "text"), ("claims", "int"), ("value", "rupiah")]
    cols += [(f"sev_{s}", "percent") for s in SEVERITIES] + [(f"nat_{s}", "percent") for s in SEVERITIES]
    table = tuple(
        (i, r.primary_dx, r.claims, r.value, *(r.mix()[s] for s in SEVERITIES),
         *(r.national_mix()[s] for s in SEVERITIES))
        for i, r in enumerate(rows, 1)
    )  # fmt: skip
    chart = Chart(tuple(r.primary_dx for r in rows), (("value", tuple(float(r.value) for r in rows)),), "rupiah")
    return Report("top-diagnoses", month, _columns(cols), table, chart)


def pending_rate_report(rows: Sequence[PendingRow], month: date | None, chart_top: int = 30) -> Report:
    cols = ("kode_rs", "text"), ("claims", "int"), ("first_decided", "int"), ("first_pended", "int"), \
        ("rate", "percent"), ("meets", "bool")  # fmt: skip
    table = tuple((r.kode_rs, r.claims, r.first_decided, r.first_pended, r.rate, r.meets_target) for r in rows)
    top = rows[:chart_top]  # the highest rates: the hospitals to talk to first
    chart = Chart(
        tuple(r.kode_rs for r in top),
        (("rate", tuple((r.rate or 0.0) * 100 for r in top)),),
        "rate",
        target=PENDING_TARGET * 100,
    )
    return Report("pending-rate", month, _columns(cols), table, chart)


def payments_report(rows: Sequence[PaymentMonthRow], month: date | None) -> Report:
    cols = ("month", "month"), ("payments", "int"), ("on_time", "int"), ("on_time_rate", "percent"), \
        ("approved", "rupiah"), ("penalty", "rupiah"), ("total_paid", "rupiah"), ("avg_days_late", "float")  # fmt: skip
    table = tuple(
        (r.month, r.payments, r.on_time, r.on_time_rate, r.approved, r.penalty, r.total_paid, r.avg_days_late)
        for r in rows
    )
    chart = Chart(
        tuple(f"{r.month:%Y-%m}" for r in rows),
        (("on_time_rate", tuple((r.on_time_rate or 0.0) * 100 for r in rows)),),
        "on_time_rate",
    )
    return Report("payments-timeliness", month, _columns(cols), table, chart)


def capitation_report(rows: Sequence[CapitationRow], month: date | None) -> Report:
    cols = ("month", "month"), ("kode_faskes", "text"), ("facility_type", "text"), ("registered_members", "int"), \
        ("rate_rp", "rupiah"), ("base_amount", "rupiah"), ("kbk_score", "float"), ("kbk_percentage", "float"), \
        ("amount", "rupiah")  # fmt: skip
    table = tuple(
        (r.month, r.kode_faskes, r.facility_type, r.registered_members, r.rate, r.base_amount, r.kbk_score,
         r.kbk_percentage, r.amount) for r in rows
    )  # fmt: skip
    bands: dict[str, float] = {}
    for r in rows:
        band = kbk_band(r.kbk_percentage, r.kbk_score)
        bands[band] = bands.get(band, 0.0) + r.amount
    ordered = sorted(bands)
    chart = Chart(tuple(ordered), (("amount", tuple(bands[b] for b in ordered)),), "rupiah")
    return Report("capitation", month, _columns(cols), table, chart)


def cell(value: object, kind: ColumnKind, language: str) -> str:
    """A value as the page shows it: rupiah the Indonesian way, shares as percentages."""
    if value is None:
        return "–"
    if kind == "rupiah":
        return rupiah(value) if isinstance(value, int | float) else str(value)
    if kind == "percent":
        return percent(value, language) if isinstance(value, float) else str(value)
    if kind == "bool":
        return label("yes" if value else "no", language)
    if kind == "month" and isinstance(value, date):
        return f"{value:%Y-%m}"
    if kind == "int" and isinstance(value, int):
        return f"{value:,}".replace(",", "." if language == "id" else ",")
    if kind == "float" and isinstance(value, float):
        text = f"{value:.2f}"
        return text.replace(".", ",") if language == "id" else text
    return str(value)


COMPACT: Mapping[str, tuple[tuple[int, str], ...]] = {
    "id": ((10**12, "T"), (10**9, "M"), (10**6, "jt"), (10**3, "rb")),  # triliun, miliar, juta, ribu
    "en": ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "K")),
}


def compact_rupiah(value: float, language: str = "id") -> str:
    """A chart axis' rupiah: `Rp 3,5 jt` (Indonesian) or `Rp 3.5 M` (English)."""
    for size, unit in COMPACT.get(language, COMPACT["id"]):
        if abs(value) >= size:
            text = f"{value / size:.1f}".removesuffix(".0")
            return f"Rp {text.replace('.', ',') if language == 'id' else text} {unit}"
    return f"Rp {value:.0f}"
