"""Official INA-CBG base groups (X-Y-ZZ) and the lookup that finds one for a claim.

A claim is looked up by (CMG of the principal diagnosis, case type) and then by procedure, diagnosis or
birth weight; the row found names an official base code (`cbg_groups.csv`). The code, not the lookup,
decides the group's CMG and case type: an outpatient visit without a procedure lands in the ambulatory
CMG Q, dialysis is `N-3-15` whether coded N18.5 or Z49.1, chemotherapy goes to `C-3-11` … `C-3-23` by
tumour site whatever the principal's CMG.
"""

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
ANY_CMG = "*"
FITS = ("exact", "nearest")

CmgCase = tuple[str, int]


@dataclass(frozen=True, slots=True)
class CaseGroup:
    """One official INA-CBG base group X-Y-ZZ (severity is added per claim)."""

    cmg: str
    case_type: int
    zz: int
    description: str
    base_code: str = ""  # 'K-1-13', filled in by __post_init__ (read per claim: build once)

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
class CrossCmgRule:
    """A procedure that decides the group whatever the principal's CMG, optionally by principal diagnosis."""

    by_diag: Mapping[str, CaseGroup]
    otherwise: CaseGroup | None

    def find(self, principal: str) -> CaseGroup | None:
        return self.by_diag.get(principal) or self.otherwise


@dataclass(frozen=True, slots=True)
class GroupTable:
    """Lookup structures per (CMG, case type), one per key kind, plus the cross-CMG procedure rules."""

    cross: Mapping[tuple[int, str], CrossCmgRule]
    by_proc: Mapping[tuple[str, int, str], CaseGroup]
    by_proc_class: Mapping[tuple[str, int, str], CaseGroup]
    by_diag: Mapping[CmgCase, Mapping[str, CaseGroup]]
    by_birth_weight: Mapping[CmgCase, tuple[BirthWeightBand, ...]]
    fallback: Mapping[CmgCase, CaseGroup]
    all_groups: tuple[CaseGroup, ...]

    def find(
        self, cmg: str, case_type: int, proc: ProcedureGroup | None, principal: str, birth_weight: int | None
    ) -> CaseGroup | None:
        """The group for a claim: cross-CMG procedure, procedure, class, diagnosis, birth weight, fallback."""
        if proc is not None:
            rule = self.cross.get((case_type, proc.name))
            found = rule.find(principal) if rule else None
            found = (
                found
                or self.by_proc.get((cmg, case_type, proc.name))
                or self.by_proc_class.get((cmg, case_type, proc.proc_class))
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


def load_official_names(data_dir: Path) -> dict[str, str]:
    """Official base code -> official name (official_cbg_v5.csv)."""
    return {r["cbg"]: r["name"] for r in read_table(data_dir / "official_cbg_v5.csv")}


def _group_of(code: str, names: Mapping[str, str]) -> CaseGroup:
    if code not in names:
        raise ValueError(f"cbg_groups.csv: {code} is not in official_cbg_v5.csv")
    cmg, case_type, zz = code.split("-")
    return CaseGroup(cmg, int(case_type), int(zz), names[code])


def _check_row(row: Mapping[str, str], group: CaseGroup) -> None:
    lookup_inpatient = int(row["case_type"]) in INPATIENT_CASE_TYPES
    if lookup_inpatient != group.inpatient:  # severity follows the code: care type must agree
        raise ValueError(f"cbg_groups.csv: case type {row['case_type']} row names {group.base_code}")
    if row["fit"] not in FITS or row["key_kind"] not in KEY_KINDS:
        raise ValueError(f"cbg_groups.csv: bad fit/key_kind in row for {group.base_code}")
    if row["cmg"] == ANY_CMG and row["key_kind"] != "proc":
        raise ValueError(f"cbg_groups.csv: a '*' CMG row must be keyed by procedure ({group.base_code})")


def load_group_table(data_dir: Path, codes: CodeSets) -> GroupTable:
    """Read cbg_groups.csv and official_cbg_v5.csv into per-key-kind lookups."""
    names = load_official_names(data_dir)
    groups = {code: _group_of(code, names) for code in names}
    by_proc: dict[tuple[str, int, str], CaseGroup] = {}
    by_proc_class: dict[tuple[str, int, str], CaseGroup] = {}
    diag_rules: dict[CmgCase, list[RangeRule[CaseGroup]]] = defaultdict(list)
    cross_rules: dict[tuple[int, str], list[RangeRule[CaseGroup]]] = defaultdict(list)
    cross_otherwise: dict[tuple[int, str], CaseGroup] = {}
    bands: dict[CmgCase, list[BirthWeightBand]] = defaultdict(list)
    fallback: dict[CmgCase, CaseGroup] = {}
    used: set[str] = set()
    for row in read_table(data_dir / "cbg_groups.csv"):
        code = row["cbg"]
        group = groups.get(code) or _group_of(code, names)
        _check_row(row, group)
        used.add(code)
        kind, key, cmg_case = row["key_kind"], row["key"], (row["cmg"], int(row["case_type"]))
        if row["cmg"] == ANY_CMG:
            cross_key = (cmg_case[1], key)
            if row["diag"]:
                cross_rules[cross_key].append(RangeRule(*parse_range(row["diag"]), group))
            else:
                cross_otherwise[cross_key] = group
            continue
        if kind == "proc":
            by_proc[(*cmg_case, key)] = group
        elif kind == "proc_class":
            by_proc_class[(*cmg_case, key)] = group
        elif kind == "diag":
            diag_rules[cmg_case].append(RangeRule(*parse_range(key), group))
        elif kind == "bw":
            low, _, high = key.partition("-")
            bands[cmg_case].append(BirthWeightBand(int(low), int(high), group))
        else:
            fallback[cmg_case] = group
    cross = {
        k: CrossCmgRule(
            resolve_codes(cross_rules.get(k, []), codes.icd10_undotted, codes.icd10), cross_otherwise.get(k)
        )
        for k in {*cross_rules, *cross_otherwise}
    }
    return GroupTable(
        cross=cross,
        by_proc=by_proc,
        by_proc_class=by_proc_class,
        by_diag={k: resolve_codes(v, codes.icd10_undotted, codes.icd10) for k, v in diag_rules.items()},
        by_birth_weight={k: tuple(v) for k, v in bands.items()},
        fallback=fallback,
        all_groups=tuple(sorted((groups[c] for c in used), key=lambda g: (g.cmg, g.case_type, g.zz))),
    )
