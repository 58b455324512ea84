"""Specific case groups (ZZ) per (CMG, case type), found by procedure, diagnosis or birth weight."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from services.grouper.domain.codes import CodeSets
from services.grouper.domain.csvdata import read_table
from services.grouper.domain.procedures import ProcedureGroup
from services.grouper.domain.ranges import RangeRule, parse_range, resolve_codes

INPATIENT_CASE_TYPES = frozenset({1, 4, 6, 8})
KEY_KINDS = ("proc", "proc_class", "diag", "bw", "*")

CmgCase = tuple[str, int]


@dataclass(frozen=True, slots=True)
class CaseGroup:
    """One INA-CBG base group X-Y-ZZ (severity is added per claim)."""

    cmg: str
    case_type: int
    zz: int
    description: str
    base_code: str = ""  # 'K-1-12', filled in by __post_init__ (read per claim: build once)

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_code", f"{self.cmg}-{self.case_type}-{self.zz:02d}")

    @property
    def inpatient(self) -> bool:
        """Inpatient groups carry severity I-III, outpatient groups severity 0."""
        return self.case_type in INPATIENT_CASE_TYPES


@dataclass(frozen=True, slots=True)
class BirthWeightBand:
    low: int
    high: int
    group: CaseGroup


@dataclass(frozen=True, slots=True)
class GroupTable:
    """Lookup structures per (CMG, case type), one per key kind."""

    by_proc: Mapping[tuple[str, int, str], CaseGroup]
    by_proc_class: Mapping[tuple[str, int, str], CaseGroup]
    by_diag: Mapping[CmgCase, Mapping[str, CaseGroup]]
    by_birth_weight: Mapping[CmgCase, tuple[BirthWeightBand, ...]]
    fallback: Mapping[CmgCase, CaseGroup]
    all_groups: tuple[CaseGroup, ...]

    def find(
        self, cmg: str, case_type: int, proc: ProcedureGroup | None, principal: str, birth_weight: int | None
    ) -> CaseGroup | None:
        """The group for a claim: procedure, procedure class, diagnosis, birth weight, then fallback."""
        if proc is not None:
            found = self.by_proc.get((cmg, case_type, proc.name)) or self.by_proc_class.get(
                (cmg, case_type, proc.proc_class)
            )
            if found:
                return found
        found = self.by_diag.get((cmg, case_type), {}).get(principal)
        if found:
            return found
        if birth_weight is not None:
            for band in self.by_birth_weight.get((cmg, case_type), ()):
                if band.low <= birth_weight <= band.high:
                    return band.group
        return self.fallback.get((cmg, case_type))


def _case_group(row: Mapping[str, str]) -> CaseGroup:
    return CaseGroup(row["cmg"], int(row["case_type"]), int(row["zz"]), row["description"])


def _check_unique(groups: list[CaseGroup]) -> None:
    codes = [g.base_code for g in groups]
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        raise ValueError(f"cbg_groups.csv: duplicate groups {duplicates}")


def load_group_table(data_dir: Path, codes: CodeSets) -> GroupTable:
    """Read cbg_groups.csv into per-key-kind lookups."""
    rows = read_table(data_dir / "cbg_groups.csv")
    by_proc: dict[tuple[str, int, str], CaseGroup] = {}
    by_proc_class: dict[tuple[str, int, str], CaseGroup] = {}
    diag_rules: dict[CmgCase, list[RangeRule[CaseGroup]]] = defaultdict(list)
    bands: dict[CmgCase, list[BirthWeightBand]] = defaultdict(list)
    fallback: dict[CmgCase, CaseGroup] = {}
    for row in rows:
        group, kind, key = _case_group(row), row["key_kind"], row["key"]
        cmg_case = (group.cmg, group.case_type)
        if kind == "proc":
            by_proc[(*cmg_case, key)] = group
        elif kind == "proc_class":
            by_proc_class[(*cmg_case, key)] = group
        elif kind == "diag":
            diag_rules[cmg_case].append(RangeRule(*parse_range(key), group))
        elif kind == "bw":
            low, _, high = key.partition("-")
            bands[cmg_case].append(BirthWeightBand(int(low), int(high), group))
        elif kind == "*":
            fallback[cmg_case] = group
        else:
            raise ValueError(f"cbg_groups.csv: unknown key_kind {kind!r}")
    all_groups = [_case_group(r) for r in rows]
    _check_unique(all_groups)
    return GroupTable(
        by_proc=by_proc,
        by_proc_class=by_proc_class,
        by_diag={k: resolve_codes(v, codes.icd10_undotted, codes.icd10) for k, v in diag_rules.items()},
        by_birth_weight={k: tuple(v) for k, v in bands.items()},
        fallback=fallback,
        all_groups=tuple(sorted(all_groups, key=lambda g: (g.cmg, g.case_type, g.zz))),
    )
