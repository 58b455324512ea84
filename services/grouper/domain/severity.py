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
LEVEL_NAME: Mapping[int, Literal["CC", "MCC"]] = {2: "CC", 3: "MCC"}
SEVERITY_OF_LEVEL: Mapping[int, Severity] = {1: "I", 2: "II", 3: "III"}
SCOPES = ("", "not_neonatal")


@dataclass(frozen=True, slots=True)
class CountedSecondary:
    """A secondary diagnosis that raised severity, and to which level (2 CC, 3 MCC)."""

    code: str
    level: int


@dataclass(frozen=True, slots=True)
class SeverityTable:
    """CC (2) / MCC (3) level per dotted ICD-10 code, each code's ICD-10 block, codes not counted on neonates."""

    level_of: Mapping[str, int]
    block_of: Mapping[str, str]
    not_neonatal: frozenset[str] = frozenset()

    def basis(self, principal: str, secondaries: Iterable[str], neonatal: bool = False) -> list[CountedSecondary]:
        """Secondaries that count: CC/MCC, outside the principal's block, not adult-only codes on a neonate."""
        excluded_block = self.block_of.get(principal)
        counted: list[CountedSecondary] = []
        for code in secondaries:
            level = self.level_of.get(code, 1)
            if level == 1 or self.block_of.get(code) == excluded_block:
                continue
            if neonatal and code in self.not_neonatal:
                continue
            counted.append(CountedSecondary(code, level))
        return counted

    def inpatient_severity(self, principal: str, secondaries: Iterable[str], neonatal: bool = False) -> Severity:
        """I, II or III: the highest level among the secondaries that count."""
        return severity_of(self.basis(principal, secondaries, neonatal))


def severity_of(basis: Iterable[CountedSecondary]) -> Severity:
    """I without a counted secondary, II with a CC, III with an MCC."""
    return SEVERITY_OF_LEVEL[max((c.level for c in basis), default=1)]


def load_severity_table(data_dir: Path, codes: CodeSets) -> SeverityTable:
    """Read severity_cc.csv (an empty level overrides a broader CC row: 'no CC')."""
    rows = read_table(data_dir / "severity_cc.csv")
    unknown = {r["level"] for r in rows} - LEVELS.keys()
    bad_scopes = {r.get("scope", "") for r in rows} - set(SCOPES)
    if unknown or bad_scopes:
        raise ValueError(f"severity_cc.csv: unknown levels {sorted(unknown)} or scopes {sorted(bad_scopes)}")
    rules = [RangeRule(r["from"], r["to"], (LEVELS[r["level"]], r.get("scope", ""))) for r in rows]
    resolved = resolve_codes(rules, codes.icd10_undotted, codes.icd10)
    return SeverityTable(
        level_of={c: level for c, (level, _) in resolved.items() if level > 1},
        block_of=codes.icd10_block,
        not_neonatal=frozenset(c for c, (level, scope) in resolved.items() if level > 1 and scope == "not_neonatal"),
    )
