"""FKTP capitation: members × rate, adjusted by the KBK score, split into service fee and operations."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import Final, Literal, Protocol

from services.payments.domain.capitation_tables import (
    FACILITY_TYPES,
    INDICATORS,
    LOWER_IS_BETTER,
    CapitationTables,
    FacilityType,
    default_tables,
)
from services.payments.domain.csvrows import CsvError, FieldParser, read_rows
from services.payments.domain.money import round_half_up

# Permenkes 21/2016 (on Perpres 32/2014, JKN capitation funds at local-government FKTPs): an FKTP owned
# by a local government allocates >= 60 % to service fees (jasa pelayanan), the rest to operations.
# Private clinics and doctors (and central-government ones) are not bound: they allocate under their own rules.
SERVICE_FEE_SHARE: Final = Fraction(60, 100)
Ownership = Literal["pemda", "pusat", "swasta"]
SPLIT_OWNERSHIPS: Final[frozenset[str]] = frozenset({"pemda"})
# Perpres 19/2016 Art. 38(1)(a),(3): paid by the 15th of the month, next working day if a holiday.
DUE_DAY_OF_MONTH: Final = 15
MEMBER_COLUMNS: Final = (
    "kode_faskes",
    "facility_type",
    "registered_members",
    "doctors",
    "has_dentist",
    *INDICATORS,
)
OPTIONAL_MEMBER_COLUMNS: Final = ("ownership",)  # empty: pemda for a puskesmas, swasta otherwise
OWNERSHIPS: Final = ("pemda", "pusat", "swasta")
KODE_FASKES_LENGTH: Final = 8


class WorkingDays(Protocol):
    """The part of the working calendar capitation needs (shared.calendar.WorkingCalendar fits)."""

    def next_working_day_on_or_after(self, d: date) -> date:
        """`d` if it is a working day, else the next one."""
        ...


@dataclass(frozen=True, slots=True)
class KbkIndicators:
    """The month's KBK indicators of one FKTP, exact decimals."""

    contact_rate_per_mille: Fraction
    non_specialist_referral_pct: Fraction
    controlled_prolanis_pct: Fraction


@dataclass(frozen=True, slots=True)
class FktpRow:
    """One FKTP for a month; `indicators` None means KBK is not assessed (paid 100 %)."""

    kode_faskes: str
    facility_type: FacilityType
    registered_members: int
    doctors: int  # dentists for dokter_gigi
    has_dentist: bool
    indicators: KbkIndicators | None = None
    ownership: Ownership | None = None  # None: pemda for a puskesmas, swasta otherwise

    @property
    def owner(self) -> Ownership:
        """Who owns the facility: every puskesmas is a local-government unit; others are private unless stated."""
        if self.ownership is not None:
            return self.ownership
        return "pemda" if self.facility_type == "puskesmas" else "swasta"


@dataclass(frozen=True, slots=True)
class CapitationResult:
    """The month's capitation of one FKTP, every amount in whole rupiah."""

    kode_faskes: str
    year: int
    month: int
    members: int
    rate: int
    base_amount: int
    kbk_score: Fraction | None
    indicator_scores: Mapping[str, int] | None
    payment_pct: Fraction
    amount_payable: int
    service_fee: int | None  # None: no split mandated (not a local-government FKTP)
    operations: int | None
    due_on: date
    ownership: Ownership = "pemda"


def capitation_rate(row: FktpRow, tables: CapitationTables) -> int:
    """Rate per member: the narrowest band of the facility's type and dentist value that holds its ratio."""
    # Exact ratio; no doctor at all only fits the unbounded band.
    ratio = Fraction(row.registered_members, row.doctors) if row.doctors else None
    candidates = [
        r
        for r in tables.rates
        if r.facility_type == row.facility_type
        and (r.has_dentist is None or r.has_dentist == row.has_dentist)
        and (r.members_per_doctor_max is None or (ratio is not None and ratio <= r.members_per_doctor_max))
    ]
    if not candidates:
        raise LookupError(f"no capitation rate for {row.facility_type} (has_dentist={row.has_dentist})")
    best = min(
        candidates,
        key=lambda r: float("inf") if r.members_per_doctor_max is None else r.members_per_doctor_max,
    )
    return best.rate


def indicator_scores(indicators: KbkIndicators, tables: CapitationTables) -> dict[str, int]:
    """Score 0–4 of each indicator: the highest tier whose threshold it meets."""
    scores: dict[str, int] = {}
    for name in INDICATORS:
        value: Fraction = getattr(indicators, name)
        met = [
            t.score
            for t in tables.tiers
            if t.indicator == name and (value <= t.threshold if name in LOWER_IS_BETTER else value >= t.threshold)
        ]
        scores[name] = max(met, default=0)
    return scores


def kbk_score(scores: Mapping[str, int], tables: CapitationTables) -> Fraction:
    """Weighted total score (0–4), exact."""
    return sum((tables.weights[name] * scores[name] for name in INDICATORS), Fraction(0))


def payment_percentage(score: Fraction, tables: CapitationTables) -> Fraction:
    """Percentage of the base paid for a KBK score: the band with the highest min_score <= score."""
    return max((b for b in tables.bands if b.min_score <= score), key=lambda b: b.min_score).payment_pct


def capitation_due_on(year: int, month: int, calendar: WorkingDays) -> date:
    """Due date of a month's capitation: the 15th of that month, or the next working day."""
    return calendar.next_working_day_on_or_after(date(year, month, DUE_DAY_OF_MONTH))


def compute_capitation(
    row: FktpRow,
    year: int,
    month: int,
    calendar: WorkingDays,
    tables: CapitationTables | None = None,
    service_fee_share: Fraction = SERVICE_FEE_SHARE,
) -> CapitationResult:
    """Capitation of `row` for (year, month); amounts exact, rounded half up only at the end."""
    tables = default_tables() if tables is None else tables
    rate = capitation_rate(row, tables)
    base = row.registered_members * rate
    scores = indicator_scores(row.indicators, tables) if row.indicators is not None else None
    score = kbk_score(scores, tables) if scores is not None else None
    pct = payment_percentage(score, tables) if score is not None else Fraction(100)
    payable = round_half_up(base * pct / 100)
    split = row.owner in SPLIT_OWNERSHIPS
    service_fee = round_half_up(payable * service_fee_share) if split else None
    return CapitationResult(
        kode_faskes=row.kode_faskes,
        year=year,
        month=month,
        members=row.registered_members,
        rate=rate,
        base_amount=base,
        kbk_score=score,
        indicator_scores=scores,
        payment_pct=pct,
        amount_payable=payable,
        service_fee=service_fee,
        operations=None if service_fee is None else payable - service_fee,  # the remainder: the parts add up
        due_on=capitation_due_on(year, month, calendar),
        ownership=row.owner,
    )


def parse_members_csv(text: str) -> tuple[list[FktpRow], list[CsvError]]:
    """Parse the monthly FKTP file; bad rows are left out, each problem reported with line and column."""
    errors: list[CsvError] = []
    rows: list[FktpRow] = []
    seen: dict[str, int] = {}
    for line, raw in read_rows(text, MEMBER_COLUMNS, errors, OPTIONAL_MEMBER_COLUMNS):
        p = FieldParser(line, errors)
        kode = raw["kode_faskes"].upper()
        if len(kode) != KODE_FASKES_LENGTH or not kode.isascii() or not kode.isalnum():
            p.fail("kode_faskes", f"must be {KODE_FASKES_LENGTH} letters or digits, got {raw['kode_faskes']!r}")
        elif kode in seen:
            p.fail("kode_faskes", f"duplicate of line {seen[kode]}")
        kind = p.choice("facility_type", raw["facility_type"], FACILITY_TYPES)
        members = p.integer("registered_members", raw["registered_members"])
        doctors = p.integer("doctors", raw["doctors"])
        dentist = p.boolean("has_dentist", raw["has_dentist"])
        indicators = _indicators(p, raw)
        owner = p.choice("ownership", raw["ownership"], OWNERSHIPS) if raw["ownership"] else None
        if p.ok and kind is not None and members is not None and doctors is not None and dentist is not None:
            seen[kode] = line
            rows.append(FktpRow(kode, kind, members, doctors, dentist, indicators, owner))  # type: ignore[arg-type]
    return rows, errors


def _indicators(p: FieldParser, raw: Mapping[str, str]) -> KbkIndicators | None:
    """The three KBK indicators: all empty means not assessed; some empty is an error."""
    texts = [raw[name] for name in INDICATORS]
    if not any(texts):
        return None
    values: list[Fraction | None] = []
    for name, text in zip(INDICATORS, texts, strict=True):
        if not text:
            p.fail(name, "required when any KBK indicator is given (leave all three empty if not assessed)")
            values.append(None)
        else:
            values.append(p.decimal(name, text, maximum=None if name == "contact_rate_per_mille" else Fraction(100)))
    contact, referral, prolanis = values
    if contact is None or referral is None or prolanis is None:
        return None
    return KbkIndicators(contact, referral, prolanis)
