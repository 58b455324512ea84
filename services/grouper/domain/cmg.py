"""Casemix main groups: principal diagnosis -> CMG letter, principal-diagnosis edits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from services.grouper.domain.codes import CodeSets
from services.grouper.domain.csvdata import read_table
from services.grouper.domain.ranges import RangeRule, resolve_codes

NEONATE_MAX_AGE_DAYS = 28
NEONATAL_CMG = "P"
OBSTETRIC_CMG = "O"


@dataclass(frozen=True, slots=True)
class PrincipalEdit:
    """Sex and age (completed years) a principal diagnosis is compatible with."""

    sex: int | None
    age_min: int | None
    age_max: int | None


@dataclass(frozen=True, slots=True)
class Cmg:
    """One casemix main group."""

    code: str
    kind: str
    name_id: str
    name_en: str


@dataclass(frozen=True, slots=True)
class CmgTable:
    """CMG names, the principal-diagnosis CMG map, codes refused as principal and sex/age edits."""

    cmgs: Mapping[str, Cmg]
    by_principal: Mapping[str, str]
    not_principal: Mapping[str, str]
    edits: Mapping[str, PrincipalEdit]

    def acute_cmgs(self) -> list[str]:
        """CMG letters a principal diagnosis can lead to, sorted."""
        return sorted(c.code for c in self.cmgs.values() if c.kind == "acute")


def _optional_int(text: str) -> int | None:
    return int(text) if text else None


def load_cmg_table(data_dir: Path, codes: CodeSets) -> CmgTable:
    """Read cmg_names, cmg_map, not_principal and principal_conflicts."""
    cmgs = {
        r["cmg"]: Cmg(r["cmg"], r["kind"], r["name_id"], r["name_en"]) for r in read_table(data_dir / "cmg_names.csv")
    }

    cmg_rules = [RangeRule(r["from"], r["to"], r["cmg"]) for r in read_table(data_dir / "cmg_map.csv")]
    unknown = {rule.value for rule in cmg_rules} - cmgs.keys()
    if unknown:
        raise ValueError(f"cmg_map.csv names unknown CMGs: {sorted(unknown)}")
    kind_rules = [RangeRule(r["from"], r["to"], r["kind"]) for r in read_table(data_dir / "not_principal.csv")]
    edit_rules = [
        RangeRule(
            r["from"],
            r["to"],
            PrincipalEdit(_optional_int(r["sex"]), _optional_int(r["age_min"]), _optional_int(r["age_max"])),
        )
        for r in read_table(data_dir / "principal_conflicts.csv")
    ]
    return CmgTable(
        cmgs=cmgs,
        by_principal=resolve_codes(cmg_rules, codes.icd10_undotted, codes.icd10),
        not_principal=resolve_codes(kind_rules, codes.icd10_undotted, codes.icd10),
        edits=resolve_codes(edit_rules, codes.icd10_undotted, codes.icd10),
    )
