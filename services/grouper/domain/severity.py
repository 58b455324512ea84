"""Severity level from secondary diagnoses through a CC / MCC table, MS-DRG style."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from services.grouper.domain.codes import CodeSets
from services.grouper.domain.csvdata import read_table
from services.grouper.domain.ranges import RangeRule, resolve_codes

Severity = Literal["0", "I", "II", "III"]
LEVELS: Mapping[str, int] = {"": 1, "CC": 2, "MCC": 3}
SEVERITY_OF_LEVEL: Mapping[int, Severity] = {1: "I", 2: "II", 3: "III"}


@dataclass(frozen=True, slots=True)
class SeverityTable:
    """CC (2) / MCC (3) level per dotted ICD-10 code, and each code's ICD-10 block."""

    level_of: Mapping[str, int]
    block_of: Mapping[str, str]

    def inpatient_severity(self, principal: str, secondaries: Iterable[str]) -> Severity:
        """I, II or III; a secondary in the principal's block does not count (PDX exclusion)."""
        excluded_block = self.block_of.get(principal)
        level = 1
        for code in secondaries:
            if self.block_of.get(code) != excluded_block:
                level = max(level, self.level_of.get(code, 1))
        return SEVERITY_OF_LEVEL[level]


def load_severity_table(data_dir: Path, codes: CodeSets) -> SeverityTable:
    """Read severity_cc.csv (an empty level overrides a broader CC row: 'no CC')."""
    rows = read_table(data_dir / "severity_cc.csv")
    unknown = {r["level"] for r in rows} - LEVELS.keys()
    if unknown:
        raise ValueError(f"severity_cc.csv: unknown levels {sorted(unknown)}")
    rules = [RangeRule(r["from"], r["to"], LEVELS[r["level"]]) for r in rows]
    levels = {c: v for c, v in resolve_codes(rules, codes.icd10_undotted, codes.icd10).items() if v > 1}
    return SeverityTable(level_of=levels, block_of=codes.icd10_block)
