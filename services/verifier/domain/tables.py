"""The verifier's data tables (data/*.csv), loaded once; sample policy data, labelled as such in each file.

- invasive_procedures.csv: ICD-9-CM prefix ranges; the most specific (longest prefix) row wins, so
  chapter 01-86 "operations" can exclude diagnostic items and chapters 87-99 can include invasive ones.
- supporting_results.csv: ICD-10 prefixes needing a lab, radiology or any supporting result.
- los_ranges.csv: expected inpatient length of stay per CMG and case type, `*` a wildcard.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal, cast

DATA_DIR = Path(__file__).with_name("data")
WILDCARD = "*"

SupportKind = Literal["lab", "radiology", "any"]


@dataclass(frozen=True)
class InvasiveRange:
    """ICD-9-CM prefixes code_from..code_to (normalised, equal length) and whether they are invasive."""

    code_from: str
    code_to: str
    invasive: bool
    description: str

    def matches(self, code: str) -> bool:
        """Whether the normalised code's prefix falls in this range."""
        return self.code_from <= code[: len(self.code_from)] <= self.code_to


@dataclass(frozen=True)
class SupportRequirement:
    """An ICD-10 prefix and the kind of result that must support it."""

    icd10_prefix: str
    required: SupportKind
    description: str


@dataclass(frozen=True)
class LosRange:
    """Expected inpatient length of stay (days, inclusive) for a CMG and case type (`*`: any)."""

    cmg: str
    case_type: str
    min_days: int
    max_days: int
    description: str


def normalize_code(code: str) -> str:
    """ICD code without dots or spaces, upper case ("k35.8" -> "K358")."""
    return code.replace(".", "").replace(" ", "").upper()


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA_DIR / name).open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@cache
def invasive_ranges() -> tuple[InvasiveRange, ...]:
    """Rows of invasive_procedures.csv, validated (both bounds the same length)."""
    ranges = tuple(
        InvasiveRange(r["code_from"], r["code_to"], r["invasive"] == "yes", r["description"])
        for r in _rows("invasive_procedures.csv")
    )
    for r in ranges:
        if len(r.code_from) != len(r.code_to) or r.code_from > r.code_to:
            raise ValueError(f"invasive_procedures.csv: bad range {r.code_from}-{r.code_to}")
    return ranges


@cache
def support_requirements() -> tuple[SupportRequirement, ...]:
    """Rows of supporting_results.csv, validated."""
    rows = _rows("supporting_results.csv")
    for r in rows:
        if r["required"] not in ("lab", "radiology", "any"):
            raise ValueError(f"supporting_results.csv: bad kind {r['required']!r}")
    return tuple(
        SupportRequirement(normalize_code(r["icd10_prefix"]), cast(SupportKind, r["required"]), r["description"])
        for r in rows
    )


@cache
def los_ranges() -> tuple[LosRange, ...]:
    """Rows of los_ranges.csv; must contain the `*,*` default."""
    ranges = tuple(
        LosRange(r["cmg"], r["case_type"], int(r["min_days"]), int(r["max_days"]), r["description"])
        for r in _rows("los_ranges.csv")
    )
    if not any(r.cmg == WILDCARD and r.case_type == WILDCARD for r in ranges):
        raise ValueError("los_ranges.csv: the default row *,* is missing")
    return ranges


def is_invasive(procedure_code: str) -> bool:
    """Whether an ICD-9-CM procedure needs informed consent: the most specific matching row decides."""
    code = normalize_code(procedure_code)
    matching = [r for r in invasive_ranges() if r.matches(code)]
    if not matching:
        return False
    return max(matching, key=lambda r: len(r.code_from)).invasive


def support_requirement(icd10: str) -> SupportRequirement | None:
    """The supporting result a diagnosis needs (longest matching prefix), if any."""
    code = normalize_code(icd10)
    matching = [r for r in support_requirements() if code.startswith(r.icd10_prefix)]
    return max(matching, key=lambda r: len(r.icd10_prefix)) if matching else None


def los_range(cmg: str, case_type: int) -> LosRange:
    """Expected LOS for a group: exact row, else CMG with any case type, else any CMG, else the default."""
    kind = str(case_type)
    for want_cmg, want_kind in ((cmg, kind), (cmg, WILDCARD), (WILDCARD, kind), (WILDCARD, WILDCARD)):
        for r in los_ranges():
            if r.cmg == want_cmg and r.case_type == want_kind:
                return r
    raise AssertionError("unreachable: the default row is validated at load")
