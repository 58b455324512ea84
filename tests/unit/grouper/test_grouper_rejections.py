"""Every grouper reason code, each from a claim that breaks exactly that rule, with its field path."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from services.grouper.domain import group_claim
from services.grouper.domain.reasons import REASON_TEXTS
from services.grouper.domain.tariffs import TariffCatalogue
from shared.events import ClaimData, ProcedureEntry, TarifRS
from tests.unit.grouper.grouper_claim_factory import TABLES, make_claim, outpatient, rejected

ADMITTED = date(2023, 5, 1)
LONG_STAY = ADMITTED + timedelta(days=60)

REJECTION_CASES: list[Any] = [
    pytest.param(make_claim(nomor_sep="0301R0011317V000008"), "G-SEP-FORMAT", "nomor_sep", id="sep-month-13"),
    pytest.param(make_claim(nomor_sep="0301R001111V000008"), "G-SEP-FORMAT", "nomor_sep", id="sep-18-chars"),
    pytest.param(make_claim(nomor_sep="0302R0011117V000008"), "G-SEP-HOSPITAL", "nomor_sep", id="sep-other-hospital"),
    pytest.param(make_claim(nomor_kartu="000123456789"), "G-CARD-FORMAT", "nomor_kartu", id="card-12-digits"),
    pytest.param(make_claim(nomor_kartu="00012345678ab"), "G-CARD-FORMAT", "nomor_kartu", id="card-letters"),
    pytest.param(make_claim(kode_rs="301R001"), "G-HOSPITAL-FORMAT", "kode_rs", id="hospital-7-chars"),
    pytest.param(make_claim(kelas_rs="E"), "G-HOSPITAL-CLASS", "kelas_rs", id="hospital-class"),
    pytest.param(make_claim(regional_tarif=6), "G-TARIFF-REGION", "regional_tarif", id="region-6"),
    pytest.param(make_claim(jenis_rawat=3), "G-CARE-TYPE", "jenis_rawat", id="care-type-3"),
    pytest.param(make_claim(kelas_rawat=4), "G-CARE-CLASS", "kelas_rawat", id="care-class-4"),
    pytest.param(make_claim(kelas_rawat=0), "G-CARE-CLASS", "kelas_rawat", id="care-class-0"),
    pytest.param(make_claim(tgl_pulang=ADMITTED - timedelta(days=1)), "G-DATES-ORDER", "tgl_pulang", id="dates-order"),
    pytest.param(make_claim(tgl_lahir=ADMITTED + timedelta(days=3)), "G-BIRTH-DATE", "tgl_lahir", id="born-later"),
    pytest.param(
        outpatient(diagnosa=["I10"], tgl_pulang=ADMITTED + timedelta(days=2)),
        "G-OUTPATIENT-LOS",
        "tgl_pulang",
        id="outpatient-2-days",
    ),
    pytest.param(
        make_claim(tgl_lahir=ADMITTED - timedelta(days=28), diagnosa=["P59.9"]),
        "G-NEONATE-WEIGHT",
        "birth_weight",
        id="neonate-28-days-no-weight",
    ),
    pytest.param(
        make_claim(tgl_lahir=ADMITTED - timedelta(days=3), birth_weight=50, diagnosa=["P59.9"]),
        "G-BIRTH-WEIGHT-RANGE",
        "birth_weight",
        id="birth-weight-50g",
    ),
    pytest.param(make_claim(icu_days=5), "G-ICU-DAYS", "icu_days", id="icu-longer-than-stay"),
    pytest.param(make_claim(ventilator_hours=100), "G-VENTILATOR-HOURS", "ventilator_hours", id="ventilator-hours"),
    pytest.param(make_claim(tarif_rs=TarifRS()), "G-BILL-EMPTY", "tarif_rs", id="bill-empty"),
    pytest.param(
        make_claim(tarif_rs=TarifRS(kamar=1_000_000, obat=-5)), "G-AMOUNT-NEGATIVE", "tarif_rs.obat", id="negative"
    ),
    pytest.param(make_claim(diagnosa=[]), "G-DIAG-EMPTY", "diagnosa", id="no-diagnosis"),
    pytest.param(make_claim(diagnosa=["K35.9", "K99.9"]), "G-ICD10-UNKNOWN", "diagnosa[1]", id="icd10-unknown"),
    # A code that is not spelled like one ("I.210", "A00-A09", "47.99x") never reaches the grouper:
    # the contract refuses it (tests/unit/test_contract.py). Well-formed but unknown codes are ours.
    pytest.param(make_claim(diagnosa=["K35.9", "K99"]), "G-ICD10-UNKNOWN", "diagnosa[1]", id="icd10-unknown-category"),
    pytest.param(make_claim(diagnosa=["I21"]), "G-ICD10-CATEGORY", "diagnosa[0]", id="icd10-category"),
    pytest.param(make_claim(diagnosa=["V01.0"]), "G-ICD10-NOT-PRINCIPAL", "diagnosa[0]", id="external-cause"),
    pytest.param(make_claim(diagnosa=["G01"]), "G-ICD10-NOT-PRINCIPAL", "diagnosa[0]", id="asterisk-code"),
    pytest.param(make_claim(procedure=["47.98"]), "G-ICD9-UNKNOWN", "procedure[0].code", id="icd9-unknown"),
    pytest.param(make_claim(procedure=["4798"]), "G-ICD9-UNKNOWN", "procedure[0].code", id="icd9-unknown-undotted"),
    pytest.param(make_claim(procedure=["47.0"]), "G-ICD9-CATEGORY", "procedure[0].code", id="icd9-category"),
    pytest.param(
        make_claim(diagnosa=["K35.9", "E11.9", "K359"]), "G-DUPLICATE-CODE", "diagnosa[2]", id="duplicate-diagnosis"
    ),
    pytest.param(
        make_claim(procedure=["47.09", ProcedureEntry(code="4709", qty=2)]),
        "G-DUPLICATE-CODE",
        "procedure[1].code",
        id="duplicate-procedure",
    ),
    pytest.param(
        make_claim(diagnosa=["I21.0"], special_cmg=["DD01", "dd01"]),
        "G-DUPLICATE-CODE",
        "special_cmg[1]",
        id="duplicate-special",
    ),
    pytest.param(make_claim(upgrade_class_ind=True), "G-UPGRADE-TARGET", "upgrade_class_class", id="upgrade-no-target"),
    pytest.param(
        make_claim(kelas_rawat=1, upgrade_class_ind=True, upgrade_class_class="kelas_2"),
        "G-UPGRADE-NOT-HIGHER",
        "upgrade_class_class",
        id="upgrade-downward",
    ),
    pytest.param(
        outpatient(diagnosa=["I10"], upgrade_class_ind=True, upgrade_class_class="vip"),
        "G-UPGRADE-OUTPATIENT",
        "upgrade_class_ind",
        id="upgrade-outpatient",
    ),
    pytest.param(
        make_claim(kelas_rawat=1, upgrade_class_ind=True, upgrade_class_class="vip", add_payment_pct=80),
        "G-UPGRADE-PCT",
        "add_payment_pct",
        id="upgrade-share-above-75-percent",
    ),
    pytest.param(
        make_claim(upgrade_class_ind=True, upgrade_class_class="kelas_1", upgrade_class_los=4),
        "G-UPGRADE-LOS",
        "upgrade_class_los",
        id="upgrade-longer-than-the-stay",
    ),
    pytest.param(make_claim(special_cmg=["RR99"]), "G-SPECIAL-CMG-UNKNOWN", "special_cmg[0]", id="special-unknown"),
    pytest.param(
        make_claim(procedure=["47.09"], special_cmg=["RR04"]),
        "G-SPECIAL-CMG-NOT-APPLICABLE",
        "special_cmg[0]",
        id="special-other-group",
    ),
    pytest.param(
        # 00.70 (hip revision) groups to M-1-10, but RR04 needs 81.51/81.52/81.54 on the claim
        make_claim(diagnosa=["M16.1"], procedure=["00.70"], special_cmg=["RR04"]),
        "G-SPECIAL-CMG-NOT-APPLICABLE",
        "special_cmg[0]",
        id="special-procedure-missing",
    ),
    pytest.param(
        make_claim(diagnosa=["I63.9"], adl_sub_acute=30, special_cmg=["SA01"]),
        "G-SPECIAL-CMG-LOS",
        "special_cmg[0]",
        id="sub-acute-short-stay",
    ),
    pytest.param(
        make_claim(diagnosa=["I63.9"], tgl_pulang=LONG_STAY, special_cmg=["SA01"]),
        "G-SPECIAL-CMG-ADL",
        "special_cmg[0]",
        id="sub-acute-without-adl",
    ),
    pytest.param(
        make_claim(diagnosa=["I21.0"], procedure=["36.06", "37.80"], special_cmg=["YY01", "RR02", "RR04"]),
        "G-SPECIAL-CMG-KIND-TWICE",
        "special_cmg[2]",
        id="two-prostheses",
    ),
    pytest.param(make_claim(diagnosa=["N40"], gender=2), "G-UNGROUPABLE-SEX", "diagnosa[0]", id="ungroupable-sex"),
    pytest.param(
        make_claim(diagnosa=["P59.9"], tgl_lahir=date(2000, 1, 1)),
        "G-UNGROUPABLE-AGE",
        "diagnosa[0]",
        id="perinatal-adult",
    ),
    pytest.param(make_claim(diagnosa=["U09.9"]), "G-ICD10-EDITION", "diagnosa[0]", id="emergency-code-not-in-2010"),
    pytest.param(
        make_claim(tgl_masuk=date(2022, 12, 1), tgl_pulang=date(2022, 12, 31)),
        "G-TARIFF-NONE-EFFECTIVE",
        "tgl_pulang",
        id="before-first-table",
    ),
]


@pytest.mark.parametrize(("claim", "code", "field"), REJECTION_CASES)
def test_each_rule_rejects_with_its_code_and_field(claim: ClaimData, code: str, field: str) -> None:
    outcome = rejected(group_claim(claim, TABLES))
    assert [(r.code, r.field) for r in outcome.reasons] == [(code, field)]
    reason = outcome.reasons[0]
    assert reason.message_id and reason.message_en and reason.message_id != reason.message_en


def unchecked_claim(**changes: Any) -> ClaimData:
    """A claim built past the contract's checks, as a caller skipping validation would build it."""
    return ClaimData.model_construct(**{**dict(make_claim()), **changes})


# On the wire the contract refuses these (an ICD-10 field must look like ICD-10, tests/unit/test_contract.py);
# the grouper still names them for a caller that builds claims without validating them.
PAST_THE_CONTRACT_CASES: list[Any] = [
    pytest.param(
        unchecked_claim(diagnosa=["K35.9", "47.09"]), "G-PROC-AS-DIAG", "diagnosa[1]", id="procedure-as-diagnosis"
    ),
    pytest.param(
        unchecked_claim(procedure=[ProcedureEntry.model_construct(code="K35.9", qty=1)]),
        "G-DIAG-AS-PROC",
        "procedure[0].code",
        id="diagnosis-as-procedure",
    ),
    pytest.param(
        unchecked_claim(diagnosa=["K35.9", "I.210"]), "G-ICD10-UNKNOWN", "diagnosa[1]", id="icd10-dot-misplaced"
    ),
]


@pytest.mark.parametrize(("claim", "code", "field"), PAST_THE_CONTRACT_CASES)
def test_codes_the_contract_refuses_are_still_named_past_it(claim: ClaimData, code: str, field: str) -> None:
    outcome = rejected(group_claim(claim, TABLES))
    assert [(r.code, r.field) for r in outcome.reasons] == [(code, field)]


def test_every_reason_code_in_the_table_has_a_case() -> None:
    # Engine tests cover G-TARIFF-MISSING; the service answers G-REVISION-REUSED (tests/integration);
    # test_grouper_codesets.py covers G-UNGROUPABLE-NO-CMG (only a gap in the tables reaches it).
    cases = REJECTION_CASES + PAST_THE_CONTRACT_CASES
    covered = {p.values[1] for p in cases} | {"G-TARIFF-MISSING", "G-REVISION-REUSED", "G-UNGROUPABLE-NO-CMG"}
    assert covered == set(REASON_TEXTS)


def test_every_problem_is_reported_not_just_the_first() -> None:
    claim = make_claim(
        nomor_sep="bad",
        nomor_kartu="123",
        kelas_rawat=5,
        tgl_pulang=ADMITTED - timedelta(days=2),
        diagnosa=["I21", "K35.9", "X99.9", "K35.9"],
        procedure=["89.99"],
        tarif_rs=TarifRS(obat=-1, alkes=-2),
        upgrade_class_ind=True,
        special_cmg=["ZZ01"],
    )
    outcome = rejected(group_claim(claim, TABLES))
    assert [(r.code, r.field) for r in outcome.reasons] == [
        ("G-SEP-FORMAT", "nomor_sep"),
        ("G-CARD-FORMAT", "nomor_kartu"),
        ("G-CARE-CLASS", "kelas_rawat"),
        ("G-DATES-ORDER", "tgl_pulang"),
        ("G-AMOUNT-NEGATIVE", "tarif_rs.obat"),
        ("G-AMOUNT-NEGATIVE", "tarif_rs.alkes"),
        ("G-BILL-EMPTY", "tarif_rs"),
        ("G-ICD10-CATEGORY", "diagnosa[0]"),
        ("G-ICD10-UNKNOWN", "diagnosa[2]"),
        ("G-DUPLICATE-CODE", "diagnosa[3]"),
        ("G-ICD9-UNKNOWN", "procedure[0].code"),
        ("G-UPGRADE-TARGET", "upgrade_class_class"),
        ("G-SPECIAL-CMG-UNKNOWN", "special_cmg[0]"),
    ]
    assert outcome.error_group is None


def test_category_message_names_the_subcategories() -> None:
    reason = rejected(group_claim(make_claim(diagnosa=["I21"]), TABLES)).reasons[0]
    assert "I21.0, I21.1, I21.2" in reason.message_en


def test_no_tariff_table_at_all_is_a_reason_not_a_crash() -> None:
    from dataclasses import replace

    outcome = rejected(group_claim(make_claim(), replace(TABLES, tariffs=TariffCatalogue(()))))
    assert [r.code for r in outcome.reasons] == ["G-TARIFF-NONE-EFFECTIVE"]
