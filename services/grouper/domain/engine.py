"""The grouper's pure entry point: a claim and the tables in, Grouped or Rejected out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, TypeAlias

from services.grouper.domain.grouping import CbgAssignment, Ungroupable, assign_cbg
from services.grouper.domain.pricing import (
    EXECUTIVE_OUTPATIENT_MAX,
    LosPhases,
    base_rates,
    severity_basis,
    special_cmgs,
    tariffs_by_class,
    tariffs_by_severity,
    upgrade_cost_share,
)
from services.grouper.domain.reasons import reason
from services.grouper.domain.tables import GrouperTables
from services.grouper.domain.tariffs import NoTariffTableError, TariffTable
from services.grouper.domain.validation import bill_total, validate_claim
from shared.events import ClaimData, GroupingResult, Reason, SpecialCmgApplied

GROUPER_VERSION: Final = "jkn-grouper-sample-1.0"


@dataclass(frozen=True, slots=True)
class Grouped:
    """The claim grouped and priced."""

    result: GroupingResult


@dataclass(frozen=True, slots=True)
class Rejected:
    """Every reason the claim cannot be grouped; `error_group` is set when it fell in one (X-0-9n-X)."""

    reasons: list[Reason]
    error_group: str | None = field(default=None)


GroupingOutcome: TypeAlias = Grouped | Rejected


def group_claim(
    claim: ClaimData,
    tables: GrouperTables,
    *,
    sub_acute_from_day: int = 43,
    chronic_from_day: int = 103,
    upgrade_above_class1_percent: int = 75,
    executive_outpatient_max: int = EXECUTIVE_OUTPATIENT_MAX,
) -> GroupingOutcome:
    """Validate, group and price one claim. Deterministic: same input, identical output."""
    problems = validate_claim(claim, tables)
    if problems:
        return Rejected(problems)
    assignment = assign_cbg(claim, tables)
    if isinstance(assignment, Ungroupable):
        return Rejected([assignment.reason], error_group=assignment.error_group)
    try:
        table = tables.tariffs.select(claim.tgl_pulang)
    except NoTariffTableError:
        return Rejected([reason("G-TARIFF-NONE-EFFECTIVE", "tgl_pulang", value=claim.tgl_pulang)])
    phases = LosPhases(sub_acute_from_day, chronic_from_day)
    return price_claim(claim, assignment, table, tables, phases, upgrade_above_class1_percent, executive_outpatient_max)


def price_claim(
    claim: ClaimData,
    assignment: CbgAssignment,
    table: TariffTable,
    tables: GrouperTables,
    phases: LosPhases,
    upgrade_above_class1_percent: int,
    executive_outpatient_max: int = EXECUTIVE_OUTPATIENT_MAX,
) -> GroupingOutcome:
    """Base tariff, top-ups and cost share for a grouped claim; a gap in the data rejects it."""
    tariff_class = tables.hospital_classes[claim.kelas_rs]
    rates = base_rates(claim, assignment, table, tariff_class)
    top_ups: list[SpecialCmgApplied] = []
    problems: list[Reason] = []
    if claim.special_cmg:  # the common claim has none: skip the work
        top_ups, problems = special_cmgs(claim, assignment, table, tables, tariff_class, phases)
    if isinstance(rates, Reason) or problems:
        return Rejected([rates, *problems] if isinstance(rates, Reason) else problems)
    base = rates[claim.kelas_rawat - 1]
    total = base + sum(t.tarif for t in top_ups)
    bill = bill_total(claim.tarif_rs)
    return Grouped(
        GroupingResult(
            cbg_code=assignment.code,
            cbg_description=assignment.description,
            cmg=assignment.group.cmg,
            case_type=assignment.group.case_type,
            severity=assignment.severity,
            tarif_kelas=base,
            tarif_alt=list(tariffs_by_class(rates)),
            special_cmg=top_ups,
            total_tarif=total,
            tarif_rs_total=bill,
            tariff_gap=bill - total,
            upgrade_cost_share=upgrade_cost_share(claim, rates, upgrade_above_class1_percent, executive_outpatient_max),
            severity_basis=severity_basis(assignment),
            tarif_by_severity=tariffs_by_severity(claim, assignment, table, tariff_class),
            grouper_version=GROUPER_VERSION,
            tariff_table_version=table.version,
        )
    )
