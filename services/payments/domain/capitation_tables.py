"""Capitation data tables (rates, KBK indicator tiers, KBK payment bands), loaded and validated from CSV."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Final, Literal, get_args

from services.payments.domain.csvrows import CsvError, CsvTableError, FieldParser, read_rows

FacilityType = Literal["puskesmas", "klinik_pratama", "dokter_praktik", "dokter_gigi"]
FACILITY_TYPES: Final[tuple[str, ...]] = get_args(FacilityType)
Indicator = Literal["contact_rate_per_mille", "non_specialist_referral_pct", "controlled_prolanis_pct"]
INDICATORS: Final[tuple[str, ...]] = get_args(Indicator)

DATA_DIR: Final = Path(__file__).resolve().parent / "data"

# PMK 3/2023: capitation norm per facility type, rupiah per member per month (inclusive bounds).
PMK_3_2023_RATE_RANGES: Final[Mapping[str, tuple[int, int]]] = MappingProxyType(
    {
        "puskesmas": (3_600, 9_000),
        "klinik_pratama": (9_000, 16_000),
        "dokter_praktik": (8_300, 15_000),
        "dokter_gigi": (3_000, 4_000),
    }
)
# KBK weights (DOMAIN.md "Capitation"): contact rate 40 %, non-specialist referrals 50 %, prolanis 10 %.
KBK_WEIGHTS: Final[Mapping[str, Fraction]] = MappingProxyType(
    {
        "contact_rate_per_mille": Fraction(40, 100),
        "non_specialist_referral_pct": Fraction(50, 100),
        "controlled_prolanis_pct": Fraction(10, 100),
    }
)
# Referrals are better when low; the other two indicators when high.
LOWER_IS_BETTER: Final = frozenset({"non_specialist_referral_pct"})
MAX_SCORE: Final = 4


@dataclass(frozen=True, slots=True)
class RateRow:
    """Rate for a facility type, dentist availability (None: either) and members-per-doctor band."""

    facility_type: FacilityType
    has_dentist: bool | None
    members_per_doctor_max: int | None  # None: no upper bound
    rate: int


@dataclass(frozen=True, slots=True)
class IndicatorTier:
    """Meeting `threshold` on `indicator` earns `score`."""

    indicator: Indicator
    threshold: Fraction
    score: int


@dataclass(frozen=True, slots=True)
class PaymentBand:
    """A KBK total score of at least `min_score` is paid `payment_pct` % of the base capitation."""

    min_score: Fraction
    payment_pct: Fraction


@dataclass(frozen=True, slots=True)
class CapitationTables:
    """Everything the capitation calculation reads as data."""

    rates: tuple[RateRow, ...]
    tiers: tuple[IndicatorTier, ...]
    bands: tuple[PaymentBand, ...]
    weights: Mapping[str, Fraction] = field(default_factory=lambda: KBK_WEIGHTS)


def parse_rates(text: str, source: str = "capitation_rates.csv") -> tuple[RateRow, ...]:
    """Parse and check the rate table; raise CsvTableError listing every problem."""
    errors: list[CsvError] = []
    rows: list[RateRow] = []
    lines: dict[tuple[str, bool | None, int | None], int] = {}
    for line, raw in read_rows(text, ("facility_type", "members_per_doctor_max", "has_dentist", "rate"), errors):
        p = FieldParser(line, errors)
        kind = p.choice("facility_type", raw["facility_type"], FACILITY_TYPES)
        band = (
            None
            if raw["members_per_doctor_max"] == ""
            else p.integer("members_per_doctor_max", raw["members_per_doctor_max"], minimum=1)
        )
        dentist = None if raw["has_dentist"] == "any" else p.boolean("has_dentist", raw["has_dentist"])
        rate = p.integer("rate", raw["rate"])
        if kind is not None and rate is not None:
            low, high = PMK_3_2023_RATE_RANGES[kind]
            if not low <= rate <= high:
                p.fail("rate", f"{kind} rate must be within PMK 3/2023 range {low}-{high}, got {rate}")
        if kind is not None and (dentist is None) != (kind == "dokter_gigi") and p.ok:
            p.fail("has_dentist", "must be 'any' for dokter_gigi and yes/no for the other types")
        if p.ok and kind is not None and rate is not None:
            key = (kind, dentist, band)
            if key in lines:
                p.fail("members_per_doctor_max", f"same facility type, dentist and band as line {lines[key]}")
            else:
                lines[key] = line
                rows.append(RateRow(kind, dentist, band, rate))  # type: ignore[arg-type]  # checked by choice()
    if not errors:
        for kind in FACILITY_TYPES:
            for dentist in (None,) if kind == "dokter_gigi" else (True, False):
                if (kind, dentist, None) not in lines:
                    label = "any" if dentist is None else ("yes" if dentist else "no")
                    errors.append(CsvError(0, "members_per_doctor_max", f"no unbounded row for {kind}/{label}"))
    if errors:
        raise CsvTableError(source, errors)
    return tuple(rows)


def parse_indicator_tiers(text: str, source: str = "kbk_indicator_scores.csv") -> tuple[IndicatorTier, ...]:
    """Parse and check the KBK indicator tiers; raise CsvTableError listing every problem."""
    errors: list[CsvError] = []
    tiers: list[IndicatorTier] = []
    for line, raw in read_rows(text, ("indicator", "threshold", "score"), errors):
        p = FieldParser(line, errors)
        indicator = p.choice("indicator", raw["indicator"], INDICATORS)
        threshold = p.decimal("threshold", raw["threshold"])
        score = p.integer("score", raw["score"], minimum=1)
        if score is not None and score > MAX_SCORE:
            p.fail("score", f"must be <= {MAX_SCORE}, got {score}")
        if p.ok and indicator is not None and threshold is not None and score is not None:
            tiers.append(IndicatorTier(indicator, threshold, score))  # type: ignore[arg-type]  # checked
    if not errors:
        errors.extend(
            CsvError(0, "indicator", f"no tier for {name}")
            for name in INDICATORS
            if all(t.indicator != name for t in tiers)
        )
    if errors:
        raise CsvTableError(source, errors)
    return tuple(tiers)


def parse_payment_bands(text: str, source: str = "kbk_payment_bands.csv") -> tuple[PaymentBand, ...]:
    """Parse and check the KBK score-to-payment bands; raise CsvTableError listing every problem."""
    errors: list[CsvError] = []
    bands: dict[Fraction, PaymentBand] = {}
    for line, raw in read_rows(text, ("min_score", "payment_pct"), errors):
        p = FieldParser(line, errors)
        low = p.decimal("min_score", raw["min_score"], maximum=Fraction(MAX_SCORE))
        pct = p.decimal("payment_pct", raw["payment_pct"], maximum=Fraction(100))
        if low is not None and low in bands:
            p.fail("min_score", f"duplicate band {raw['min_score']}")
        if p.ok and low is not None and pct is not None:
            bands[low] = PaymentBand(low, pct)
    if not errors and Fraction(0) not in bands:
        errors.append(CsvError(0, "min_score", "a band with min_score 0 is required"))
    if errors:
        raise CsvTableError(source, errors)
    return tuple(sorted(bands.values(), key=lambda b: b.min_score))


def load_tables(directory: Path = DATA_DIR) -> CapitationTables:
    """Load the three tables from `directory`."""

    def read(name: str) -> tuple[str, str]:
        path = directory / name
        return path.read_text(encoding="utf-8"), str(path)

    return CapitationTables(
        rates=parse_rates(*read("capitation_rates.csv")),
        tiers=parse_indicator_tiers(*read("kbk_indicator_scores.csv")),
        bands=parse_payment_bands(*read("kbk_payment_bands.csv")),
    )


@lru_cache(maxsize=1)
def default_tables() -> CapitationTables:
    """The shipped tables, loaded once."""
    return load_tables()
