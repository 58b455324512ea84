"""Table-driven tests of the pure grouper: CMG, case type, group, severity, top-ups, tariffs.

Expected CBGs are read from the data tables' meaning (services/grouper/data/*.csv), e.g.
"appendectomy 47.09 -> procedure group APPENDECTOMY; K35.9 -> CMG K; inpatient major
procedure -> case type 1; cbg_groups.csv row K,1,proc,APPENDECTOMY -> K-1-13; no CC -> I".
"""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest

from services.grouper.domain import GROUPER_VERSION, Rejected, group_claim
from services.grouper.domain.tariffs import TariffCatalogue, TariffManifest, TariffTable
from shared.events import ClaimData, TarifRS
from tests.unit.grouper.grouper_claim_factory import TABLES, grouped, make_claim, outpatient, rates, rejected

ADMITTED = date(2023, 5, 1)


def neonate(days_old: int, birth_weight: int | None, **changes: Any) -> ClaimData:
    """A baby `days_old` days old at admission."""
    return make_claim(tgl_lahir=ADMITTED - timedelta(days=days_old), birth_weight=birth_weight, **changes)


GROUPING_CASES = [
    # case type 1: inpatient, major procedure (47.09 APPENDECTOMY) on a digestive principal
    pytest.param(make_claim(diagnosa=["K35.9"], procedure=["47.09"]), "K-1-13-I", id="1-appendectomy"),
    # undotted and lower-case spellings are normalised
    pytest.param(make_claim(diagnosa=["k359"], procedure=["4709"]), "K-1-13-I", id="1-undotted-codes"),
    # case type 2: outpatient major procedure (53.00 HERNIA) -> K,2,11
    pytest.param(outpatient(diagnosa=["K40.9"], procedure=["53.00"]), "K-2-14-0", id="2-hernia-outpatient"),
    # case type 3: outpatient significant procedure (39.95 HEMODIALYSIS) on N18.5 -> N,3,10
    pytest.param(outpatient(diagnosa=["N18.5"], procedure=["39.95"]), "N-3-15-0", id="3-hemodialysis"),
    # case type 3 for chemotherapy on a Z51.1 chemotherapy session -> Z,3,10
    pytest.param(outpatient(diagnosa=["Z51.1"], procedure=["99.25"]), "C-3-23-0", id="3-chemotherapy"),
    # case type 4: inpatient without procedure, AMI I21.0 -> I,4,10
    pytest.param(make_claim(diagnosa=["I21.0"]), "I-4-10-I", id="4-ami"),
    # a minor procedure (99.10 thrombolytic injection) keeps case type 4
    pytest.param(make_claim(diagnosa=["I21.0"], procedure=["99.10"]), "I-4-10-I", id="4-minor-procedure"),
    # a significant procedure on an inpatient does not make case type 1 (N18.5 -> N,4,10)
    pytest.param(make_claim(diagnosa=["N18.5"], procedure=["39.95"]), "N-4-10-I", id="4-inpatient-dialysis"),
    # case type 5: outpatient without procedure, hypertension I10 -> I,5,10
    pytest.param(outpatient(diagnosa=["I10"]), "Q-5-44-0", id="5-hypertension"),
    # case type 5 fallback row when no diagnosis range matches (K59.0 constipation -> K,5,11)
    pytest.param(outpatient(diagnosa=["K59.0"]), "K-5-18-0", id="5-fallback-group"),
    # stroke I63.9 groups to the nervous system CMG G as in INA-CBG -> G,4,11
    pytest.param(make_claim(diagnosa=["I63.9"]), "G-4-14-I", id="4-stroke-is-cmg-G"),
    # case type 6: inpatient caesarean 74.1 on O82.0, a woman of 28 -> O,6,11
    pytest.param(
        make_claim(diagnosa=["O82.0"], procedure=["74.1"], gender=2, tgl_lahir=date(1995, 1, 1)),
        "O-6-10-I",
        id="6-caesarean",
    ),
    # case type 6 without procedure, spontaneous delivery O80.0 -> O,6,16
    pytest.param(make_claim(diagnosa=["O80.0"], gender=2, tgl_lahir=date(1995, 1, 1)), "O-6-13-I", id="6-delivery"),
    # case type 7: outpatient antenatal supervision Z34.0 -> CMG O, diag Z32-Z36 -> O,7,13
    pytest.param(outpatient(diagnosa=["Z34.0"], gender=2, tgl_lahir=date(1995, 1, 1)), "Q-5-23-0", id="7-antenatal"),
    # case type 8: inpatient neonate, 1,200 g -> birth-weight band 0-1499 -> P,8,11
    pytest.param(neonate(2, 1200, diagnosa=["P07.1"]), "P-8-11-I", id="8-very-low-birth-weight"),
    # healthy liveborn Z38.0 -> P,8,15 (diagnosis row before birth-weight bands)
    pytest.param(neonate(1, 3100, diagnosa=["Z38.0"]), "P-8-17-I", id="8-healthy-liveborn"),
    # a neonate's pneumonia J18.9 still goes to CMG P (age <= 28 days), 2,600 g -> P,8,13
    pytest.param(neonate(10, 2600, diagnosa=["J18.9"]), "P-8-17-I", id="8-age-rule"),
    # neonate with a major procedure (53.00) -> proc_class major -> P,8,10
    pytest.param(neonate(20, 2800, diagnosa=["K40.9"], procedure=["53.00"]), "P-8-07-I", id="8-neonatal-surgery"),
    # case type 9: outpatient neonate -> P,9,11
    pytest.param(
        outpatient(diagnosa=["P59.9"], tgl_lahir=ADMITTED - timedelta(days=10), birth_weight=3000),
        "P-9-17-0",
        id="9-neonatal-jaundice-outpatient",
    ),
    # severity II: a CC (I50.0 heart failure, block I30-I52) beside AMI
    pytest.param(make_claim(diagnosa=["I21.0", "I50.0"]), "I-4-10-II", id="severity-II-cc"),
    # severity III: an MCC (J96.0 acute respiratory failure)
    pytest.param(make_claim(diagnosa=["I21.0", "I50.0", "J96.0"]), "I-4-10-III", id="severity-III-mcc"),
    # principal-diagnosis exclusion: I22.0 is an MCC but in I21.0's block I20-I25
    pytest.param(make_claim(diagnosa=["I21.0", "I22.0"]), "I-4-10-I", id="severity-pdx-exclusion"),
    # E11.9 (diabetes without complication) is not a CC; E11.0 (with coma) is an MCC
    pytest.param(make_claim(diagnosa=["K35.9", "E11.9"], procedure=["47.09"]), "K-1-13-I", id="severity-no-cc"),
    pytest.param(make_claim(diagnosa=["K35.9", "E11.0"], procedure=["47.09"]), "K-1-13-III", id="severity-subcat-mcc"),
    # severity 0 for an outpatient, whatever the secondary diagnoses
    pytest.param(outpatient(diagnosa=["I10", "J96.0"]), "Q-5-44-0", id="severity-0-outpatient"),
    # best procedure wins: hernia repair outranks the minor injection listed first
    pytest.param(make_claim(diagnosa=["K40.9"], procedure=["99.10", "53.00"]), "K-1-14-I", id="principal-procedure"),
]


@pytest.mark.parametrize(("claim", "cbg"), GROUPING_CASES)
def test_groups_to_the_cbg_the_tables_define(claim: ClaimData, cbg: str) -> None:
    result = grouped(group_claim(claim, TABLES))
    assert result.cbg_code == cbg
    cmg, case_type, _, severity = cbg.split("-")
    assert (result.cmg, result.case_type, result.severity) == (cmg, int(case_type), severity)
    assert result.grouper_version == GROUPER_VERSION


def test_description_carries_the_severity_word_for_inpatients() -> None:
    assert grouped(group_claim(make_claim(procedure=["47.09"]), TABLES)).cbg_description == "PROSEDUR APPENDIK RINGAN"
    assert (
        grouped(group_claim(outpatient(diagnosa=["I10"]), TABLES)).cbg_description == "PENYAKIT KRONIS KECIL LAIN-LAIN"
    )


ERROR_GROUP_CASES = [
    # O80.0 delivery for a 5-year-old: maternity age edit 9-64 -> age conflict
    pytest.param(make_claim(diagnosa=["O80.0"], gender=2, tgl_lahir=date(2018, 1, 1)), "X-0-93-X", "G-UNGROUPABLE-AGE"),
    # N40 prostate hyperplasia for a woman -> sex conflict
    pytest.param(make_claim(diagnosa=["N40"], gender=2), "X-0-92-X", "G-UNGROUPABLE-SEX"),
    # (no CMG -> X-0-91-X: every ICD-10 2010 principal code has a CMG, see test_grouper_codesets.py)
]


@pytest.mark.parametrize(("claim", "error_group", "code"), ERROR_GROUP_CASES)
def test_ungroupable_claims_get_an_error_group_with_its_reason(claim: ClaimData, error_group: str, code: str) -> None:
    outcome = rejected(group_claim(claim, TABLES))
    assert outcome.error_group == error_group
    assert [r.code for r in outcome.reasons] == [code]
    assert error_group in outcome.reasons[0].message_en and error_group in outcome.reasons[0].message_id


# ----------------------------------------------------------------------------- special CMG top-ups

SPECIAL_CASES = [
    # RR04 hip/knee prosthesis on a hip replacement 81.51 for coxarthrosis M16.1 -> M-1-10
    pytest.param(make_claim(diagnosa=["M16.1"], procedure=["81.51"], special_cmg=["RR04"]), "M-1-04-I", "RR04", 1),
    # YY01 coronary stent with PCI 36.06 on AMI -> I-1-11
    pytest.param(make_claim(diagnosa=["I21.0"], procedure=["36.06"], special_cmg=["YY01"]), "I-1-40-I", "YY01", 1),
    # II01 MRI (88.91) on an outpatient epilepsy visit -> G-3-10 (CT/MRI)
    pytest.param(outpatient(diagnosa=["G40.9"], procedure=["88.91"], special_cmg=["II01"]), "Z-3-18-0", "II01", 1),
    # DD01 streptokinase on AMI without procedure -> I-4-10
    pytest.param(make_claim(diagnosa=["I21.0"], special_cmg=["DD01"]), "I-4-10-I", "DD01", 1),
    # SA01 sub-acute: 60-day stay, phase from day 43 -> 18 days paid
    pytest.param(
        make_claim(
            diagnosa=["I63.9"], tgl_pulang=ADMITTED + timedelta(days=60), adl_sub_acute=30, special_cmg=["SA01"]
        ),
        "G-4-14-I",
        "SA01",
        18,
    ),
    # CA01 chronic: 120-day stay, phase from day 103 -> 18 days paid
    pytest.param(
        make_claim(diagnosa=["I63.9"], tgl_pulang=ADMITTED + timedelta(days=120), adl_chronic=40, special_cmg=["CA01"]),
        "G-4-14-I",
        "CA01",
        18,
    ),
    # SA01 on a 120-day stay pays the whole sub-acute phase, days 43..102 = 60 days
    pytest.param(
        make_claim(
            diagnosa=["I63.9"], tgl_pulang=ADMITTED + timedelta(days=120), adl_sub_acute=30, special_cmg=["SA01"]
        ),
        "G-4-14-I",
        "SA01",
        60,
    ),
]


@pytest.mark.parametrize(("claim", "cbg", "code", "units"), SPECIAL_CASES)
def test_special_cmg_top_up_is_added_to_the_base_tariff(claim: ClaimData, cbg: str, code: str, units: int) -> None:
    result = grouped(group_claim(claim, TABLES))
    assert result.cbg_code == cbg
    [applied] = result.special_cmg
    assert applied.code == code
    assert applied.tarif == rates(code)[1] * units  # care class 2, special tariffs per unit
    assert result.total_tarif == result.tarif_kelas + applied.tarif
    assert result.tariff_gap == result.tarif_rs_total - result.total_tarif


def test_special_cmg_kinds_match_the_table() -> None:
    kinds = {s.kind for s in TABLES.special.by_code.values()}
    assert kinds == {"procedure", "prosthesis", "investigation", "drug", "sub_acute", "chronic"}


def test_los_phase_thresholds_are_arguments() -> None:
    claim = make_claim(
        diagnosa=["I63.9"], tgl_pulang=ADMITTED + timedelta(days=60), adl_sub_acute=30, special_cmg=["SA01"]
    )
    # Sources differ by a day: from day 42 the same stay has 19 sub-acute days.
    result = grouped(group_claim(claim, TABLES, sub_acute_from_day=42))
    assert result.special_cmg[0].tarif == rates("SA01")[1] * 19


def test_offered_special_cmgs_for_a_group() -> None:
    hip = next(g for g in TABLES.groups.all_groups if g.base_code == "M-1-04")
    assert [s.code for s in TABLES.special.offered(hip)] == ["CA01", "II01", "RR04", "SA01"]  # II01: any M group
    outpatient_visit = next(g for g in TABLES.groups.all_groups if g.base_code == "K-5-18")
    assert TABLES.special.offered(outpatient_visit) == []


# ----------------------------------------------------------------------------- upgrade and tariffs


def test_upgrade_class_2_to_1_pays_the_tariff_difference() -> None:
    claim = make_claim(procedure=["47.09"], kelas_rawat=2, upgrade_class_ind=True, upgrade_class_class="kelas_1")
    result = grouped(group_claim(claim, TABLES))
    class_1, class_2, _ = rates("K-1-13-I")
    assert result.upgrade_cost_share == class_1 - class_2 > 0
    assert result.tarif_kelas == class_2  # BPJS pays the entitled class


def test_upgrade_class_3_to_2_pays_the_tariff_difference() -> None:
    claim = make_claim(procedure=["47.09"], kelas_rawat=3, upgrade_class_ind=True, upgrade_class_class="kelas_2")
    _, class_2, class_3 = rates("K-1-13-I")
    assert grouped(group_claim(claim, TABLES)).upgrade_cost_share == class_2 - class_3


def test_upgrade_above_class_1_without_a_declared_percent_pays_the_default_share_of_class_1() -> None:
    vip_bill = TarifRS(prosedur_bedah=15_000_000, kamar=6_000_000)  # above the class-1 tariff: the share applies
    claim = make_claim(
        procedure=["47.09"], kelas_rawat=1, upgrade_class_ind=True, upgrade_class_class="vip", tarif_rs=vip_bill
    )
    class_1 = rates("K-1-13-I")[0]
    assert grouped(group_claim(claim, TABLES)).upgrade_cost_share == (class_1 * 75 + 50) // 100
    assert grouped(group_claim(claim, TABLES, upgrade_above_class1_percent=50)).upgrade_cost_share == class_1 // 2


def test_no_upgrade_has_no_cost_share_and_a_target_without_the_flag_is_ignored() -> None:
    assert grouped(group_claim(make_claim(), TABLES)).upgrade_cost_share is None
    assert grouped(group_claim(make_claim(upgrade_class_class="vip"), TABLES)).upgrade_cost_share is None


def test_tarif_alt_has_all_three_classes_and_tarif_kelas_is_the_claimed_one() -> None:
    for kelas in (1, 2, 3):
        result = grouped(group_claim(make_claim(procedure=["47.09"], kelas_rawat=kelas), TABLES))
        assert [t.kelas for t in result.tarif_alt] == [1, 2, 3]
        assert [t.tarif for t in result.tarif_alt] == list(rates("K-1-13-I"))
        assert result.tarif_kelas == result.tarif_alt[kelas - 1].tarif


def test_inpatient_tariffs_rise_with_class_and_outpatient_has_one_tariff() -> None:
    class_1, class_2, class_3 = rates("K-1-13-I")
    assert class_1 > class_2 > class_3
    assert len(set(rates("Q-5-44-0"))) == 1


@pytest.mark.parametrize(("kamar", "sign"), [(50_000_000, 1), (100_000, -1)])
def test_tariff_gap_is_bill_minus_ina_cbg(kamar: int, sign: int) -> None:
    claim = make_claim(procedure=["47.09"], tarif_rs={"kamar": kamar})
    result = grouped(group_claim(claim, TABLES))
    assert result.tarif_rs_total == kamar
    assert result.tariff_gap == kamar - result.total_tarif
    assert (result.tariff_gap > 0) == (sign > 0)


def test_bare_hospital_class_letter_reads_as_the_government_variant() -> None:
    bare = grouped(group_claim(make_claim(kelas_rs="B", regional_tarif=3), TABLES))
    assert bare.tarif_kelas == rates("K-4-17-I", 3, "BP")[1]


@pytest.mark.parametrize(("regional", "kelas_rs"), [(1, "AP"), (5, "DS"), (3, "CS")])
def test_tariff_depends_on_region_and_hospital_class(regional: int, kelas_rs: str) -> None:
    result = grouped(group_claim(make_claim(regional_tarif=regional, kelas_rs=kelas_rs), TABLES))
    assert result.tarif_kelas == rates("K-4-17-I", regional, kelas_rs)[1]


# ----------------------------------------------------------------------------- tariff table by date


def shifted_table(version: str, start: date, end: date | None, factor: int) -> TariffTable:
    """The sample table under another version and period, tariffs multiplied."""
    sample = TABLES.tariffs.tables[0]
    scaled = {k: (v[0] * factor, v[1] * factor, v[2] * factor) for k, v in sample.rates.items()}
    return TariffTable(TariffManifest(version, start, end, "test", f"{version}.csv", ""), scaled)


def test_tariff_table_is_chosen_by_discharge_date_across_a_boundary() -> None:
    old = shifted_table("OLD", date(2023, 1, 1), date(2024, 12, 31), 1)
    new = shifted_table("NEW", date(2025, 1, 1), None, 2)
    tables = replace(TABLES, tariffs=TariffCatalogue((old, new)))

    def discharged(day: date) -> ClaimData:
        return make_claim(tgl_masuk=day - timedelta(days=2), tgl_pulang=day, nomor_sep="0301R0011224V000001")

    last_old = grouped(group_claim(discharged(date(2024, 12, 31)), tables))
    first_new = grouped(group_claim(discharged(date(2025, 1, 1)), tables))
    assert (last_old.tariff_table_version, first_new.tariff_table_version) == ("OLD", "NEW")
    assert first_new.tarif_kelas == 2 * last_old.tarif_kelas
    too_early = rejected(group_claim(discharged(date(2022, 12, 31)), tables))
    assert [r.code for r in too_early.reasons] == ["G-TARIFF-NONE-EFFECTIVE"]


def test_a_newer_open_table_supersedes_an_open_one() -> None:
    old = shifted_table("OLD", date(2023, 1, 1), None, 1)
    new = shifted_table("NEW", date(2025, 1, 1), None, 2)
    catalogue = TariffCatalogue((old, new))
    assert catalogue.select(date(2024, 6, 1)).version == "OLD"
    assert catalogue.select(date(2025, 6, 1)).version == "NEW"


def test_a_cbg_missing_from_the_table_is_rejected_not_priced_at_zero() -> None:
    sample = TABLES.tariffs.tables[0]
    holed = {k: v for k, v in sample.rates.items() if k[0] != "K-1-13-I"}
    tables = replace(TABLES, tariffs=TariffCatalogue((TariffTable(sample.manifest, holed),)))
    outcome = rejected(group_claim(make_claim(procedure=["47.09"]), tables))
    assert [r.code for r in outcome.reasons] == ["G-TARIFF-MISSING"]


# ----------------------------------------------------------------------------- determinism


def test_same_input_gives_identical_output() -> None:
    claim = make_claim(diagnosa=["M16.1", "I50.0"], procedure=["81.51"], special_cmg=["RR04"])
    first, second = group_claim(claim, TABLES), group_claim(claim, TABLES)
    assert first == second
    assert grouped(first).model_dump_json() == grouped(second).model_dump_json()


def test_field_order_of_the_input_is_irrelevant() -> None:
    claim = make_claim(diagnosa=["M16.1", "I50.0"], procedure=["81.51"], special_cmg=["RR04"], upgrade_class_ind=True)
    as_dict = json.loads(claim.model_dump_json())
    items = list(as_dict.items())
    random.Random(7).shuffle(items)
    shuffled = ClaimData.model_validate_json(json.dumps(dict(items)))
    assert group_claim(shuffled, TABLES) == group_claim(claim, TABLES)


def test_rejections_are_deterministic_too() -> None:
    claim = make_claim(nomor_sep="x", diagnosa=["I21", "V01.0", "K35.9", "K359"])
    first, second = group_claim(claim, TABLES), group_claim(claim, TABLES)
    assert isinstance(first, Rejected) and first == second
