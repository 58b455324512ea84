"""Special CMG top-ups: which apply to a group, and their length-of-stay phases."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

from services.grouper.domain.csvdata import read_table
from services.grouper.domain.groups import CaseGroup

SpecialKind = Literal["procedure", "prosthesis", "investigation", "drug", "sub_acute", "chronic"]
SPECIAL_KINDS: tuple[SpecialKind, ...] = ("procedure", "prosthesis", "investigation", "drug", "sub_acute", "chronic")
LOS_PHASE_KINDS: frozenset[str] = frozenset({"sub_acute", "chronic"})
Unit = Literal["episode", "day"]


@dataclass(frozen=True, slots=True)
class SpecialCmg:
    """One special CMG item; `applies_to` holds (CMG, case type, ZZ) patterns, '*' = any."""

    code: str
    kind: SpecialKind
    unit: Unit
    applies_to: tuple[tuple[str, str, str], ...]
    requires_procedure: tuple[str, ...]
    description: str

    def applies_to_group(self, group: CaseGroup) -> bool:
        """True when one pattern matches the group's CMG, case type and ZZ."""
        parts = (group.cmg, str(group.case_type), f"{group.zz:02d}")
        return any(all(p in ("*", v) for p, v in zip(pattern, parts, strict=True)) for pattern in self.applies_to)

    def procedure_present(self, undotted_procedures: Iterable[str]) -> bool:
        """True when no procedure is required or one claimed procedure starts with a required prefix."""
        if not self.requires_procedure:
            return True
        return any(code.startswith(self.requires_procedure) for code in undotted_procedures)


@dataclass(frozen=True, slots=True)
class SpecialCmgTable:
    """Special CMG items by code."""

    by_code: Mapping[str, SpecialCmg]

    def offered(self, group: CaseGroup) -> list[SpecialCmg]:
        """Items a claim grouped to `group` may claim, in code order."""
        return [s for _, s in sorted(self.by_code.items()) if s.applies_to_group(group)]


def _pattern(text: str) -> tuple[str, str, str]:
    parts = [*text.split("-"), "*", "*"][:3]
    return parts[0], parts[1], parts[2]


def _special(row: Mapping[str, str]) -> SpecialCmg:
    if row["kind"] not in SPECIAL_KINDS or row["unit"] not in ("episode", "day"):
        raise ValueError(f"special_cmg.csv: bad kind/unit in {row}")
    return SpecialCmg(
        code=row["code"],
        kind=row["kind"],
        unit=cast(Unit, row["unit"]),
        applies_to=tuple(_pattern(p) for p in row["applies_to"].split(";") if p),
        requires_procedure=tuple(p for p in row["requires_procedure"].split(";") if p),
        description=row["description"],
    )


def load_special_cmg_table(data_dir: Path) -> SpecialCmgTable:
    """Read special_cmg.csv."""
    return SpecialCmgTable(by_code={s.code: s for s in map(_special, read_table(data_dir / "special_cmg.csv"))})


def phase_days(kind: str, length_of_stay: int, sub_acute_from_day: int, chronic_from_day: int) -> int:
    """Days of the stay inside the sub-acute or chronic phase (0 when the stay never reaches it)."""
    if kind == "sub_acute":
        return max(min(length_of_stay, chronic_from_day - 1) - sub_acute_from_day + 1, 0)
    if kind == "chronic":
        return max(length_of_stay - chronic_from_day + 1, 0)
    return 0
