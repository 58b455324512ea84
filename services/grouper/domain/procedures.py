"""ICD-9-CM procedure groups and classes (major / significant / minor)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from services.grouper.domain.codes import CodeSets
from services.grouper.domain.csvdata import read_table
from services.grouper.domain.ranges import RangeRule, resolve_codes

ProcClass = Literal["major", "significant", "minor"]
PROC_CLASSES: tuple[ProcClass, ...] = ("major", "significant", "minor")


@dataclass(frozen=True, slots=True)
class ProcedureGroup:
    """A procedure group; `rank` orders groups by resource use (0 = most)."""

    name: str
    proc_class: ProcClass
    rank: int
    description: str
    order: tuple[int, int] = (0, 0)  # (class, rank): the sort key, filled in by __post_init__

    def __post_init__(self) -> None:
        object.__setattr__(self, "order", (PROC_CLASSES.index(self.proc_class), self.rank))


@dataclass(frozen=True, slots=True)
class ProcedureTable:
    """Procedure groups by name and by dotted ICD-9-CM code."""

    groups: Mapping[str, ProcedureGroup]
    by_code: Mapping[str, ProcedureGroup]

    def principal(self, codes: Iterable[str]) -> ProcedureGroup | None:
        """The claim's principal procedure group: best class, then best rank."""
        best: ProcedureGroup | None = None
        for code in codes:
            group = self.by_code.get(code)
            if group is not None and (best is None or group.order < best.order):
                best = group
        return best


def _group(rank: int, row: Mapping[str, str]) -> ProcedureGroup:
    if row["class"] not in PROC_CLASSES:
        raise ValueError(f"procedure_groups.csv: unknown class {row['class']!r}")
    return ProcedureGroup(row["proc_group"], row["class"], rank, row["description"])


def load_procedure_table(data_dir: Path, codes: CodeSets) -> ProcedureTable:
    """Read procedure_groups and procedure_ranges; every ICD-9-CM code gets a group."""
    groups = {g.name: g for g in (_group(i, r) for i, r in enumerate(read_table(data_dir / "procedure_groups.csv")))}
    rules = [
        RangeRule(r["from"], r["to"], groups[r["proc_group"]]) for r in read_table(data_dir / "procedure_ranges.csv")
    ]
    by_code = resolve_codes(rules, codes.icd9_undotted, codes.icd9)
    missing = codes.icd9_leaves - by_code.keys()
    if missing:
        raise ValueError(f"procedure_ranges.csv leaves codes without a group: {sorted(missing)[:10]}")
    return ProcedureTable(groups=groups, by_code={c: g for c, g in by_code.items() if c in codes.icd9_leaves})
