"""Claim validation before grouping: every problem found, each a `Reason` naming its field.

Formats (decided here, documented in data/README.md):
- SEP: 19 characters = issuing hospital code (8, see below) + month-year MMYY (month 01-12)
  + 'V' + 6-digit serial, e.g. 0301R0011117V000008.
- Hospital code (kode PPK): 4 digits + 1 capital letter + 3 digits, e.g. 0301R001.
- JKN card: 13 digits.

Each check returns a list (empty on the common path: cheaper than a generator per check).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

from services.grouper.domain.cmg import NEONATE_MAX_AGE_DAYS
from services.grouper.domain.codes import CodeSets, edition_code_sets
from services.grouper.domain.pricing import UPGRADE_MAX_PERCENT
from services.grouper.domain.reasons import reason
from services.grouper.domain.tables import GrouperTables
from services.grouper.domain.tariffs import TARIFF_REGIONS, NoTariffTableError
from shared.events import ClaimData, Reason, TarifRS

SEP_PATTERN: Final = re.compile(r"(?P<hospital>[0-9]{4}[A-Z][0-9]{3})(0[1-9]|1[0-2])[0-9]{2}V[0-9]{6}")
HOSPITAL_PATTERN: Final = re.compile(r"[0-9]{4}[A-Z][0-9]{3}")
CARD_PATTERN: Final = re.compile(r"[0-9]{13}")
BIRTH_WEIGHT_GRAMS: Final = (200, 7000)
OUTPATIENT_MAX_DAYS: Final = 1  # an emergency visit may cross midnight, not more
# Rank of an upgrade target: lower is a better class; VIP/VVIP are above class 1.
UPGRADE_TARGET_RANK: Final = {"kelas_1": 1, "kelas_2": 2, "vip": 0, "vvip": 0}
NOT_PRINCIPAL_KIND_TEXT: Final = {
    "external_cause": ("kode penyebab luar", "external cause code"),
    "supplementary": ("kode tambahan", "supplementary code"),
    "asterisk": (
        "kode asterisk; kode dagger penyakit dasar menjadi diagnosis utama",
        "asterisk code; the dagger code is principal",
    ),
}


def validate_claim(claim: ClaimData, tables: GrouperTables) -> list[Reason]:
    """Every problem that keeps the claim from being grouped, in a stable order."""
    codes = codes_in_force(claim, tables)
    return [
        *check_identifiers(claim, tables),
        *check_episode(claim),
        *check_bill(claim),
        *check_diagnoses(claim, tables, codes),
        *check_procedures(claim, codes),
        *check_upgrade(claim),
        *check_special_codes(claim, tables),
    ]


def codes_in_force(claim: ClaimData, tables: GrouperTables) -> CodeSets:
    """The code-set editions of the tariff table in force on the discharge date.

    Without a table in force the grouping tables' editions are used: the engine then refuses
    the claim for want of a tariff table (G-TARIFF-NONE-EFFECTIVE), after any code problems.
    """
    try:
        manifest = tables.tariffs.select(claim.tgl_pulang).manifest
    except NoTariffTableError:
        return tables.codes
    if (manifest.icd10_edition, manifest.icd9cm_edition) == (tables.codes.icd10_edition, tables.codes.icd9cm_edition):
        return tables.codes
    return edition_code_sets(manifest.icd10_edition, manifest.icd9cm_edition)


@lru_cache(maxsize=8192)
def hospital_code_ok(kode_rs: str) -> bool:
    """Kode PPK format (cached: a few thousand hospitals send all the claims)."""
    return HOSPITAL_PATTERN.fullmatch(kode_rs) is not None


def check_identifiers(claim: ClaimData, tables: GrouperTables) -> list[Reason]:
    """SEP, card, hospital code and class, tariff region."""
    out = []
    sep = SEP_PATTERN.fullmatch(claim.nomor_sep)
    hospital_ok = hospital_code_ok(claim.kode_rs)
    if sep is None:
        out.append(reason("G-SEP-FORMAT", "nomor_sep", value=claim.nomor_sep))
    elif hospital_ok and sep["hospital"] != claim.kode_rs:
        out.append(reason("G-SEP-HOSPITAL", "nomor_sep", value=sep["hospital"], kode_rs=claim.kode_rs))
    if CARD_PATTERN.fullmatch(claim.nomor_kartu) is None:
        out.append(reason("G-CARD-FORMAT", "nomor_kartu", value=claim.nomor_kartu))
    if not hospital_ok:
        out.append(reason("G-HOSPITAL-FORMAT", "kode_rs", value=claim.kode_rs))
    if claim.kelas_rs not in tables.hospital_classes:
        out.append(reason("G-HOSPITAL-CLASS", "kelas_rs", value=claim.kelas_rs))
    if claim.regional_tarif not in TARIFF_REGIONS:
        out.append(reason("G-TARIFF-REGION", "regional_tarif", value=claim.regional_tarif))
    return out


def check_episode(claim: ClaimData) -> list[Reason]:
    """Care type and class, birth and stay dates, neonate weight, ICU and ventilator time."""
    out = []
    if claim.jenis_rawat not in (1, 2):
        out.append(reason("G-CARE-TYPE", "jenis_rawat", value=claim.jenis_rawat))
    if claim.kelas_rawat not in (1, 2, 3):
        out.append(reason("G-CARE-CLASS", "kelas_rawat", value=claim.kelas_rawat))
    if claim.tgl_lahir > claim.tgl_masuk:
        out.append(reason("G-BIRTH-DATE", "tgl_lahir", value=claim.tgl_lahir, tgl_masuk=claim.tgl_masuk))
    out += check_neonate(claim)
    days = (claim.tgl_pulang - claim.tgl_masuk).days
    if days < 0:
        out.append(reason("G-DATES-ORDER", "tgl_pulang", value=claim.tgl_pulang, tgl_masuk=claim.tgl_masuk))
        return out  # the stay checks below need a real length of stay
    if claim.jenis_rawat == 2 and days > OUTPATIENT_MAX_DAYS:
        out.append(reason("G-OUTPATIENT-LOS", "tgl_pulang", value=days))
    los = max(days, 1)  # ClaimData.length_of_stay
    if claim.icu_days > los:
        out.append(reason("G-ICU-DAYS", "icu_days", value=claim.icu_days, los=los))
    if claim.ventilator_hours > los * 24:
        out.append(reason("G-VENTILATOR-HOURS", "ventilator_hours", value=claim.ventilator_hours, los=los))
    return out


def check_neonate(claim: ClaimData) -> list[Reason]:
    """A neonate (<= 28 days old at admission) needs a birth weight; any birth weight is plausible."""
    out = []
    age_days = (claim.tgl_masuk - claim.tgl_lahir).days
    if 0 <= age_days <= NEONATE_MAX_AGE_DAYS and claim.birth_weight is None:
        out.append(reason("G-NEONATE-WEIGHT", "birth_weight", value=age_days))
    low, high = BIRTH_WEIGHT_GRAMS
    if claim.birth_weight is not None and not low <= claim.birth_weight <= high:
        out.append(reason("G-BIRTH-WEIGHT-RANGE", "birth_weight", value=claim.birth_weight, low=low, high=high))
    return out


def bill_amounts(bill: TarifRS) -> dict[str, int]:
    """The 18 bill components by name."""
    # A pydantic model keeps exactly its fields in __dict__ (TarifRS forbids extras);
    # reading it is ~20x faster than model_dump() on the claim path.
    amounts: dict[str, int] = vars(bill)
    return amounts


def bill_total(bill: TarifRS) -> int:
    """Sum of the 18 components."""
    return sum(bill_amounts(bill).values())


def check_bill(claim: ClaimData) -> list[Reason]:
    """No negative component; something billed."""
    amounts = bill_amounts(claim.tarif_rs)
    if min(amounts.values()) >= 0 and max(amounts.values()) > 0:
        return []
    out = [reason("G-AMOUNT-NEGATIVE", f"tarif_rs.{k}", value=v) for k, v in amounts.items() if v < 0]
    if max(amounts.values()) <= 0:
        out.append(reason("G-BILL-EMPTY", "tarif_rs"))
    return out


def check_diagnoses(claim: ClaimData, tables: GrouperTables, codes: CodeSets) -> list[Reason]:
    """ICD-10 codes in the edition in force, complete, principal acceptable, not procedures, not repeated."""
    out = [] if claim.diagnosa else [reason("G-DIAG-EMPTY", "diagnosa")]
    first_seen: dict[str, int] = {}
    for i, raw in enumerate(claim.diagnosa):
        code = codes.diagnosis(raw)
        if code is None or code not in codes.icd10_leaves or (i == 0 and code in tables.cmg.not_principal):
            out.append(diagnosis_problem(i, raw, code, tables, codes))
        key = code or raw.strip().upper()
        if key in first_seen:
            out.append(reason("G-DUPLICATE-CODE", f"diagnosa[{i}]", value=raw, first=f"diagnosa[{first_seen[key]}]"))
        first_seen.setdefault(key, i)
    return out


def diagnosis_problem(i: int, raw: str, code: str | None, tables: GrouperTables, codes: CodeSets) -> Reason:
    """The reason a diagnosis code is refused (other edition, unknown, a procedure, a category, not principal)."""
    field = f"diagnosa[{i}]"
    if code is None:
        return unknown_diagnosis(field, raw, codes)
    if code not in codes.icd10_leaves:
        return reason("G-ICD10-CATEGORY", field, value=raw, children=_children_text(codes, code))
    kind_id, kind_en = NOT_PRINCIPAL_KIND_TEXT[tables.cmg.not_principal[code]]
    return reason("G-ICD10-NOT-PRINCIPAL", field, value=raw, kind_id=kind_id, kind_en=kind_en)


def unknown_diagnosis(field: str, raw: str, codes: CodeSets) -> Reason:
    """Not in the edition in force: a code of another known edition (with what to use), a procedure code, or unknown."""
    edition = codes.icd10_edition
    other = codes.other_edition(raw)
    if other is not None:
        use_id, use_en = (f"; gunakan {other.use}", f"; use {other.use}") if other.use else ("", "")
        return reason(
            "G-ICD10-EDITION", field, value=raw, edition=edition, other=other.edition, use_id=use_id, use_en=use_en
        )
    if codes.procedure(raw):
        return reason("G-PROC-AS-DIAG", field, value=raw)
    return reason("G-ICD10-UNKNOWN", field, value=raw, edition=edition)


def _children_text(codes: CodeSets, code: str) -> str:
    """'I21.0, I21.1, I21.2, ...' (only on the rejection path, so a scan is fine)."""
    prefix = code if "." in code else code + "."
    children = sorted(c for c in codes.icd10_leaves if c.startswith(prefix))
    return ", ".join(children[:3]) + (", ..." if len(children) > 3 else "")


def check_procedures(claim: ClaimData, codes: CodeSets) -> list[Reason]:
    """ICD-9-CM procedure codes known, complete, not diagnoses, not repeated (use qty)."""
    out = []
    first_seen: dict[str, int] = {}
    for i, entry in enumerate(claim.procedure):
        field = f"procedure[{i}].code"
        code = codes.procedure(entry.code)
        if code is None:
            unknown = "G-DIAG-AS-PROC" if codes.diagnosis(entry.code) else "G-ICD9-UNKNOWN"
            out.append(reason(unknown, field, value=entry.code, edition=codes.icd9cm_edition))
        elif code not in codes.icd9_leaves:
            out.append(reason("G-ICD9-CATEGORY", field, value=entry.code))
        key = code or entry.code.strip().upper()
        if key in first_seen:
            out.append(reason("G-DUPLICATE-CODE", field, value=entry.code, first=f"procedure[{first_seen[key]}].code"))
        first_seen.setdefault(key, i)
    return out


def check_upgrade(claim: ClaimData) -> list[Reason]:
    """An upgrade is inpatient only, names a target, and the target is above the care class."""
    if not claim.upgrade_class_ind:
        return []  # a target without the flag is ignored, as E-Klaim does
    out = []
    if claim.jenis_rawat == 2:
        out.append(reason("G-UPGRADE-OUTPATIENT", "upgrade_class_ind"))
    target = claim.upgrade_class_class
    if target is None:
        out.append(reason("G-UPGRADE-TARGET", "upgrade_class_class"))
    elif claim.kelas_rawat in (1, 2, 3) and UPGRADE_TARGET_RANK[target] >= claim.kelas_rawat:
        out.append(reason("G-UPGRADE-NOT-HIGHER", "upgrade_class_class", value=target, kelas_rawat=claim.kelas_rawat))
    if claim.add_payment_pct is not None and claim.add_payment_pct > UPGRADE_MAX_PERCENT:
        out.append(reason("G-UPGRADE-PCT", "add_payment_pct", value=claim.add_payment_pct, cap=UPGRADE_MAX_PERCENT))
    if claim.upgrade_class_los is not None and claim.upgrade_class_los > claim.length_of_stay:
        los = claim.length_of_stay
        out.append(reason("G-UPGRADE-LOS", "upgrade_class_los", value=claim.upgrade_class_los, los=los))
    return out


def check_special_codes(claim: ClaimData, tables: GrouperTables) -> list[Reason]:
    """Special CMG codes known, not repeated, one per kind (applicability needs the group: later)."""
    out: list[Reason] = []
    first_seen: dict[str, int] = {}
    kinds: set[str] = set()
    for i, raw in enumerate(claim.special_cmg):
        field = f"special_cmg[{i}]"
        item = tables.special.by_code.get(raw.strip().upper())
        if item is None:
            out.append(reason("G-SPECIAL-CMG-UNKNOWN", field, value=raw))
            continue
        if item.code in first_seen:
            out.append(reason("G-DUPLICATE-CODE", field, value=raw, first=f"special_cmg[{first_seen[item.code]}]"))
        elif item.kind in kinds:
            out.append(reason("G-SPECIAL-CMG-KIND-TWICE", field, value=raw, kind=item.kind))
        first_seen.setdefault(item.code, i)
        kinds.add(item.kind)
    return out
