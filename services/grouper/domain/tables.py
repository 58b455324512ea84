"""All grouper data tables, loaded once and cached, with cross-table consistency checks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from services.grouper.domain.cmg import NEONATAL_CMG, OBSTETRIC_CMG, CmgTable, load_cmg_table
from services.grouper.domain.codes import CodeSets, check_editions, load_code_sets
from services.grouper.domain.csvdata import DATA_DIR, read_table
from services.grouper.domain.groups import GroupTable, load_group_table
from services.grouper.domain.procedures import PROC_CLASSES, ProcedureTable, load_procedure_table
from services.grouper.domain.severity import SeverityTable, load_severity_table
from services.grouper.domain.special_cmg import SpecialCmgTable, load_special_cmg_table
from services.grouper.domain.tariffs import TariffCatalogue, load_tariff_tables

TARIFF_DIR = DATA_DIR / "tariffs"
INPATIENT_SEVERITIES = ("I", "II", "III")


def case_types_of(cmg: str) -> tuple[int, ...]:
    """Case types a CMG can take: obstetric 6/7, neonatal 8/9, others 1-5."""
    if cmg == OBSTETRIC_CMG:
        return (6, 7)
    if cmg == NEONATAL_CMG:
        return (8, 9)
    return (1, 2, 3, 4, 5)


@dataclass(frozen=True, slots=True)
class GrouperTables:
    """Everything the pure engine reads: code sets, grouping tables, special CMGs, tariffs."""

    codes: CodeSets
    cmg: CmgTable
    procedures: ProcedureTable
    groups: GroupTable
    severity: SeverityTable
    special: SpecialCmgTable
    hospital_classes: Mapping[str, str]
    tariffs: TariffCatalogue

    def tariff_classes(self) -> frozenset[str]:
        """Hospital-class columns of a tariff table (AP, AS, ... DS)."""
        return frozenset(self.hospital_classes.values())

    def producible_cbgs(self) -> list[str]:
        """Every full CBG code the grouping tables can produce, sorted."""
        out: list[str] = []
        for group in self.groups.all_groups:
            severities = INPATIENT_SEVERITIES if group.inpatient else ("0",)
            out.extend(f"{group.base_code}-{s}" for s in severities)
        return sorted(out)

    def principal_codes(self) -> list[str]:
        """Leaf ICD-10 codes acceptable as principal diagnosis, sorted."""
        return sorted(c for c in self.codes.icd10_leaves if c not in self.cmg.not_principal)


def check_consistency(tables: GrouperTables) -> None:
    """Fail at load time, not on a claim, when tables disagree with each other."""
    groups = tables.groups
    unknown_procs = ({k[2] for k in groups.by_proc} | {k[1] for k in groups.cross}) - tables.procedures.groups.keys()
    unknown_classes = {k[2] for k in groups.by_proc_class} - set(PROC_CLASSES)
    if unknown_procs or unknown_classes:
        raise ValueError(f"cbg_groups.csv: unknown procedure keys {sorted(unknown_procs | unknown_classes)}")
    missing = [
        f"{cmg}-{ct}"
        for cmg in tables.cmg.acute_cmgs()
        for ct in case_types_of(cmg)
        if (cmg, ct) not in groups.fallback
    ]
    if missing:
        raise ValueError(f"cbg_groups.csv: no fallback ('*') group for {missing}")
    stray = sorted({g.base_code for g in groups.all_groups if g.case_type not in case_types_of(g.cmg)})
    if stray:
        raise ValueError(f"cbg_groups.csv: case types impossible for their CMG: {stray}")
    known = {*tables.cmg.acute_cmgs(), "*"}
    bad_patterns = sorted(
        s.code for s in tables.special.by_code.values() if any(p[0] not in known for p in s.applies_to)
    )
    if bad_patterns:
        raise ValueError(f"special_cmg.csv: applies_to names unknown CMGs in {bad_patterns}")
    check_editions(((t.manifest.icd10_edition, t.manifest.icd9cm_edition) for t in tables.tariffs.tables), tables.codes)


def load_hospital_classes(data_dir: Path) -> dict[str, str]:
    """kelas_rs on a claim -> tariff-table hospital class."""
    return {r["kelas_rs"]: r["tariff_class"] for r in read_table(data_dir / "hospital_classes.csv")}


@cache
def cached_code_sets() -> CodeSets:
    """The ICD code sets the grouping tables are resolved against (the default editions), built once."""
    return load_code_sets()


@cache
def load_grouper_tables(data_dir: Path = DATA_DIR, tariff_dir: Path | None = None) -> GrouperTables:
    """Load (once per directory pair) and check every table; tariffs default to data/tariffs."""
    codes = cached_code_sets()
    tables = GrouperTables(
        codes=codes,
        cmg=load_cmg_table(data_dir, codes),
        procedures=load_procedure_table(data_dir, codes),
        groups=load_group_table(data_dir, codes),
        severity=load_severity_table(data_dir, codes),
        special=load_special_cmg_table(data_dir),
        hospital_classes=load_hospital_classes(data_dir),
        tariffs=load_tariff_tables(tariff_dir or data_dir / "tariffs"),
    )
    check_consistency(tables)
    return tables
