"""Tariffs for a grouped claim: base tariff by class, special CMG top-ups, class-upgrade cost share."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Final

from services.grouper.domain.codes import undotted
from services.grouper.domain.grouping import CbgAssignment
from services.grouper.domain.reasons import reason
from services.grouper.domain.severity import LEVEL_NAME, SEVERITY_OF_LEVEL
from services.grouper.domain.special_cmg import LOS_PHASE_KINDS, SpecialCmg, phase_days
from services.grouper.domain.tables import GrouperTables
from services.grouper.domain.tariffs import ClassRates, TariffTable
from shared.events import (
    ClaimData,
    Reason,
    SeverityBasis,
    SpecialCmgApplied,
    TariffByClass,
    TariffBySeverity,
)

TARGET_CLASS: Final = {"kelas_1": 1, "kelas_2": 2}
# PMK 3/2023 Art. 48: an upgrade above class 1 costs the member at most 75 % of the class-1 tariff, and an
# outpatient executive visit at most Rp 400,000 (the latter is the default of a setting).
UPGRADE_MAX_PERCENT: Final = 75
EXECUTIVE_OUTPATIENT_MAX: Final = 400_000
OUTPATIENT: Final = 2
EXECUTIVE: Final = 1  # E-Klaim: outpatient kelas_rawat 1 = eksekutif, 3 = regular


@dataclass(frozen=True, slots=True)
class LosPhases:
    """Length-of-stay phase thresholds (settings: sources differ by a day)."""

    sub_acute_from_day: int
    chronic_from_day: int

    def first_day(self, kind: str) -> int:
        """First day of the sub-acute or chronic phase."""
        return self.sub_acute_from_day if kind == "sub_acute" else self.chronic_from_day


@lru_cache(maxsize=1 << 16)
def tariffs_by_class(rates: ClassRates) -> tuple[TariffByClass, TariffByClass, TariffByClass]:
    """`tarif_alt`: one tariff per care class 1, 2, 3 (immutable, so cached per rates triple)."""
    return (
        TariffByClass(kelas=1, tarif=rates[0]),
        TariffByClass(kelas=2, tarif=rates[1]),
        TariffByClass(kelas=3, tarif=rates[2]),
    )


def upgrade_cost_share(
    claim: ClaimData,
    rates: ClassRates,
    above_class1_percent: int,
    executive_outpatient_max: int = EXECUTIVE_OUTPATIENT_MAX,
) -> int | None:
    """What the patient pays for naik kelas or an executive outpatient visit (PMK 3/2023 Art. 48); else None.

    BPJS pays the entitled class (`tarif_kelas`); this is the member's share on top of it:
    - 3 -> 2, 2 -> 1: the difference of the two INA-CBG tariffs;
    - 1 -> above class 1 (VIP): the hospital's declared `add_payment_pct` of the class-1 tariff
      (`above_class1_percent` when it declares none; more than 75 % is refused before pricing);
    - 2 -> above class 1: the class 1 - class 2 difference plus that share of the class-1 tariff;
    - the above-class-1 rules do not apply when the hospital's bill does not exceed the tariff of the
      entitled class (Art. 48): the share is then 0;
    - outpatient executive care (outpatient `kelas_rawat` 1): the hospital's `tarif_poli_eks`, at most
      `executive_outpatient_max` per visit (Rp 400,000).
    """
    if claim.jenis_rawat == OUTPATIENT:
        return min(claim.tarif_poli_eks or 0, executive_outpatient_max) if claim.kelas_rawat == EXECUTIVE else None
    target = claim.upgrade_class_class
    if not claim.upgrade_class_ind or target is None:
        return None
    entitled = rates[claim.kelas_rawat - 1]
    if target in TARGET_CLASS:
        return max(rates[TARGET_CLASS[target] - 1] - entitled, 0)
    if claim.tarif_rs.total() <= entitled:
        return 0
    return max(rates[0] - entitled, 0) + vip_share(rates[0], declared_percent(claim, above_class1_percent))


def declared_percent(claim: ClaimData, default_percent: int) -> Decimal:
    """The hospital's `add_payment_pct`, else the default; never above the regulation's 75 %."""
    declared = claim.add_payment_pct
    percent = Decimal(default_percent) if declared is None else Decimal(str(declared))
    return min(percent, Decimal(UPGRADE_MAX_PERCENT))


def vip_share(class1_tariff: int, percent: Decimal) -> int:
    """`percent` of the class-1 tariff in whole rupiah, half up."""
    return int((class1_tariff * percent / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def special_problems(
    claim: ClaimData, index: int, item: SpecialCmg, assignment: CbgAssignment, phases: LosPhases
) -> Iterator[Reason]:
    """Why the claim's special CMG at `index` cannot be paid for this grouped claim."""
    field = f"special_cmg[{index}]"
    if not item.applies_to_group(assignment.group):
        yield reason("G-SPECIAL-CMG-NOT-APPLICABLE", field, value=item.code, cbg=assignment.code, why_id="", why_en="")
    elif not item.procedure_present(undotted(p.code.strip()) for p in claim.procedure):
        needs = "/".join(f"{p[:2]}.{p[2:]}" for p in item.requires_procedure)  # ICD-9-CM as coders write it
        yield reason(
            "G-SPECIAL-CMG-NOT-APPLICABLE", field, value=item.code, cbg=assignment.code,
            why_id=f" tanpa tindakan {needs}", why_en=f" without procedure {needs}",
        )  # fmt: skip
    if item.kind in LOS_PHASE_KINDS:
        day = phases.first_day(item.kind)
        if claim.length_of_stay < day:
            yield reason("G-SPECIAL-CMG-LOS", field, value=item.code, day=day, los=claim.length_of_stay)
        adl = claim.adl_sub_acute if item.kind == "sub_acute" else claim.adl_chronic
        if adl is None:
            yield reason("G-SPECIAL-CMG-ADL", field, value=item.code)


def claimed_specials(claim: ClaimData, tables: GrouperTables) -> list[SpecialCmg]:
    """The claim's special CMG items in claim order (validated: known, unique)."""
    return [tables.special.by_code[raw.strip().upper()] for raw in claim.special_cmg]


def special_top_ups(
    claim: ClaimData, items: list[SpecialCmg], table: TariffTable, tariff_class: str, phases: LosPhases
) -> tuple[list[SpecialCmgApplied], list[Reason]]:
    """Priced top-ups; per-day items pay for each day of the stay inside their phase."""
    applied: list[SpecialCmgApplied] = []
    missing: list[Reason] = []
    for item in items:
        rates = table.rates_for(item.code, claim.regional_tarif, tariff_class)
        if rates is None:
            missing.append(_tariff_missing(item.code, claim, table, tariff_class))
            continue
        tarif = rates[claim.kelas_rawat - 1]
        if item.unit == "day":
            los = claim.length_of_stay
            tarif *= phase_days(item.kind, los, phases.sub_acute_from_day, phases.chronic_from_day)
        applied.append(SpecialCmgApplied(code=item.code, kind=item.kind, description=item.description, tarif=tarif))
    return applied, missing


def special_cmgs(
    claim: ClaimData,
    assignment: CbgAssignment,
    table: TariffTable,
    tables: GrouperTables,
    tariff_class: str,
    phases: LosPhases,
) -> tuple[list[SpecialCmgApplied], list[Reason]]:
    """The claim's priced top-ups, and every reason one of them cannot be paid."""
    items = claimed_specials(claim, tables)
    problems = [p for i, item in enumerate(items) for p in special_problems(claim, i, item, assignment, phases)]
    top_ups, missing = special_top_ups(claim, items, table, tariff_class, phases)
    return top_ups, problems + missing


def _tariff_missing(code: str, claim: ClaimData, table: TariffTable, tariff_class: str) -> Reason:
    return reason(
        "G-TARIFF-MISSING", "regional_tarif", value=code, version=table.version,
        regional=claim.regional_tarif, kelas_rs=tariff_class,
    )  # fmt: skip


def base_rates(
    claim: ClaimData, assignment: CbgAssignment, table: TariffTable, tariff_class: str
) -> ClassRates | Reason:
    """Class 1-3 tariffs of the claim's CBG, or the reason the table cannot price it."""
    rates = table.rates_for(assignment.code, claim.regional_tarif, tariff_class)
    return rates if rates is not None else _tariff_missing(assignment.code, claim, table, tariff_class)


def severity_basis(assignment: CbgAssignment) -> list[SeverityBasis]:
    """The secondaries that raised the claim's severity, for a verifier that must regroup without our tables."""
    return [SeverityBasis(code=c.code, level=LEVEL_NAME[c.level]) for c in assignment.basis]


def tariffs_by_severity(
    claim: ClaimData, assignment: CbgAssignment, table: TariffTable, tariff_class: str
) -> list[TariffBySeverity]:
    """The same group's base tariff at severity I, II, III for the claimed care class (inpatient only).

    An upcoding correction (an unsupported CC/MCC removed) is priced from these figures, never by a ratio.
    """
    if not assignment.group.inpatient:
        return []
    out: list[TariffBySeverity] = []
    for severity in SEVERITY_OF_LEVEL.values():
        rates = table.rates_for(f"{assignment.group.base_code}-{severity}", claim.regional_tarif, tariff_class)
        if rates is not None:
            out.append(TariffBySeverity(severity=severity, tarif=rates[claim.kelas_rawat - 1]))
    return out
