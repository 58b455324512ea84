"""CBG assignment: CMG from the principal diagnosis, case type, specific group ZZ, severity.

Runs on a validated claim only (every code known and complete).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final

from services.grouper.domain.cmg import NEONATAL_CMG, NEONATE_MAX_AGE_DAYS, OBSTETRIC_CMG
from services.grouper.domain.groups import CaseGroup
from services.grouper.domain.procedures import ProcedureGroup
from services.grouper.domain.reasons import reason
from services.grouper.domain.severity import CountedSecondary, Severity, severity_of
from services.grouper.domain.tables import GrouperTables
from shared.events import ClaimData, Reason

# Error groups (X-0-9n-X): the claim is rejected with the group named in the reason.
ERROR_NO_CMG: Final = "X-0-91-X"
ERROR_SEX_CONFLICT: Final = "X-0-92-X"
ERROR_AGE_CONFLICT: Final = "X-0-93-X"
SEVERITY_WORD: Final = {"I": "RINGAN", "II": "SEDANG", "III": "BERAT"}


@dataclass(frozen=True, slots=True)
class CbgAssignment:
    """The group and severity a claim falls in."""

    group: CaseGroup
    severity: Severity
    basis: tuple[CountedSecondary, ...] = ()  # the secondaries that raised severity (inpatient)
    code: str = ""  # full INA-CBG code, e.g. K-1-13-I; filled in by __post_init__ (read twice per claim)

    def __post_init__(self) -> None:
        object.__setattr__(self, "code", f"{self.group.base_code}-{self.severity}")

    @property
    def description(self) -> str:
        """Group description, with the severity word for inpatient groups (INA-CBG style)."""
        word = SEVERITY_WORD.get(self.severity)
        return f"{self.group.description} {word}" if word else self.group.description


@dataclass(frozen=True, slots=True)
class Ungroupable:
    """A validated claim that still cannot be grouped: an error group and why."""

    error_group: str
    reason: Reason


def age_in_years(born: date, on: date) -> int:
    """Completed years of age on a date."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def edit_conflict(claim: ClaimData, principal: str, tables: GrouperTables) -> Ungroupable | None:
    """Sex or age incompatible with the principal diagnosis (data: principal_conflicts.csv)."""
    edit = tables.cmg.edits.get(principal)
    if edit is None:
        return None
    field, raw = "diagnosa[0]", claim.diagnosa[0]
    if edit.sex is not None and claim.gender != edit.sex:
        return Ungroupable(
            ERROR_SEX_CONFLICT, reason("G-UNGROUPABLE-SEX", field, value=raw, error_group=ERROR_SEX_CONFLICT)
        )
    age = age_in_years(claim.tgl_lahir, claim.tgl_masuk)
    if (edit.age_min is not None and age < edit.age_min) or (edit.age_max is not None and age > edit.age_max):
        return Ungroupable(
            ERROR_AGE_CONFLICT, reason("G-UNGROUPABLE-AGE", field, value=raw, age=age, error_group=ERROR_AGE_CONFLICT)
        )
    return None


def choose_cmg(claim: ClaimData, principal: str, tables: GrouperTables) -> str | None:
    """Neonates (<= 28 days at admission) go to the neonatal CMG; others by principal diagnosis."""
    if (claim.tgl_masuk - claim.tgl_lahir).days <= NEONATE_MAX_AGE_DAYS:
        return NEONATAL_CMG
    return tables.cmg.by_principal.get(principal)


def case_type(cmg: str, inpatient: bool, proc: ProcedureGroup | None) -> int:
    """1 inpatient procedure ... 9 outpatient neonatal (see DOMAIN.md)."""
    if cmg == OBSTETRIC_CMG:
        return 6 if inpatient else 7
    if cmg == NEONATAL_CMG:
        return 8 if inpatient else 9
    proc_class = proc.proc_class if proc else "minor"
    if inpatient:
        return 1 if proc_class == "major" else 4
    return {"major": 2, "significant": 3}.get(proc_class, 5)


def assign_cbg(claim: ClaimData, tables: GrouperTables) -> CbgAssignment | Ungroupable:
    """The claim's CBG, or the error group that stops it."""
    codes = tables.codes
    principal = codes.icd10[claim.diagnosa[0].strip().upper()]
    conflict = edit_conflict(claim, principal, tables)
    if conflict:
        return conflict
    cmg = choose_cmg(claim, principal, tables)
    if cmg is None:
        raw = claim.diagnosa[0]
        return Ungroupable(
            ERROR_NO_CMG, reason("G-UNGROUPABLE-NO-CMG", "diagnosa[0]", value=raw, error_group=ERROR_NO_CMG)
        )
    inpatient = claim.jenis_rawat == 1
    proc = tables.procedures.principal(codes.icd9[p.code.strip().upper()] for p in claim.procedure)
    group = tables.groups.find(cmg, case_type(cmg, inpatient, proc), proc, principal, claim.birth_weight)
    if group is None:  # check_consistency guarantees a fallback per (CMG, case type)
        raise LookupError(f"no group for CMG {cmg}")
    if not inpatient:
        return CbgAssignment(group, "0")
    secondaries = [codes.icd10[d.strip().upper()] for d in claim.diagnosa[1:]]
    basis = tables.severity.basis(principal, secondaries, neonatal=cmg == NEONATAL_CMG)
    return CbgAssignment(group, severity_of(basis), tuple(basis))
