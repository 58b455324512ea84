"""Obstetric and neonatal complications raise severity; an adult code on a neonate never pays more.

Expected tariffs are worked out by hand from the sample table's stated weights
(services/grouper/data/generate_sample_tariffs.py, cbg_weights.csv): class 3 = 3,000,000 x weight
x severity (I 1, II 1.5, III 2.2) x hospital class BP 1.2 x region 1; class 2 = 1.2 x class 3.
"""

from __future__ import annotations

from datetime import date, timedelta

from services.grouper.domain import group_claim
from shared.events import ClaimData, SeverityBasis, TariffBySeverity
from tests.unit.grouper.grouper_claim_factory import TABLES, grouped, make_claim

ADMITTED = date(2023, 5, 1)


def caesarean(*diagnoses: str) -> ClaimData:
    return make_claim(diagnosa=list(diagnoses), procedure=["74.1"], gender=2, tgl_lahir=date(1995, 1, 1))


def neonate(*diagnoses: str, birth_weight: int = 1800) -> ClaimData:
    return make_claim(diagnosa=list(diagnoses), tgl_lahir=ADMITTED - timedelta(days=2), birth_weight=birth_weight)


def test_caesarean_alone_is_severity_i() -> None:
    result = grouped(group_claim(caesarean("O82.0"), TABLES))
    assert result.cbg_code == "O-6-10-I"
    # weight 1.6: 3,000,000 x 1.6 x 1.2 (BP) = 5,760,000 class 3; x 1.2 = 6,912,000 class 2
    assert result.tarif_kelas == 6_912_000
    assert result.severity_basis == []


def test_caesarean_with_severe_pre_eclampsia_is_above_severity_i() -> None:
    result = grouped(group_claim(caesarean("O82.0", "O14.1"), TABLES))
    assert result.cbg_code == "O-6-10-III"  # O14.1 severe pre-eclampsia: MCC
    # 5,760,000 x 2.2 = 12,672,000 class 3; x 1.2 = 15,206,400 class 2
    assert result.tarif_kelas == 15_206_400
    assert result.severity_basis == [SeverityBasis(code="O14.1", level="MCC")]
    assert result.tarif_by_severity == [
        TariffBySeverity(severity="I", tarif=6_912_000),
        TariffBySeverity(severity="II", tarif=10_368_000),  # 5,760,000 x 1.5 x 1.2
        TariffBySeverity(severity="III", tarif=15_206_400),
    ]


def test_caesarean_with_postpartum_haemorrhage_is_severity_ii() -> None:
    assert grouped(group_claim(caesarean("O82.0", "O72.1"), TABLES)).cbg_code == "O-6-10-II"


def test_low_birth_weight_neonate_with_sepsis_is_above_severity_i() -> None:
    result = grouped(group_claim(neonate("P07.1", "P36.9"), TABLES))
    assert result.cbg_code == "P-8-12-III"  # 1800 g: 1500-1999 g band; P36.9 bacterial sepsis of newborn: MCC
    # weight 3.0: 3,000,000 x 3.0 x 1.2 = 10,800,000; x 2.2 = 23,760,000 class 3; x 1.2 = 28,512,000 class 2
    assert result.tarif_kelas == 28_512_000
    assert result.severity_basis == [SeverityBasis(code="P36.9", level="MCC")]


def test_adult_sepsis_code_on_a_neonate_does_not_out_pay_neonatal_sepsis() -> None:
    adult = grouped(group_claim(neonate("P07.1", "A41.9"), TABLES))
    neonatal = grouped(group_claim(neonate("P07.1", "P36.9"), TABLES))
    # A40-A41 exclude newborns (ICD-10: 'Excl.: neonatal (P36.-)'): not a CC on a neonatal claim
    assert adult.cbg_code == "P-8-12-I" and adult.severity_basis == []
    assert adult.tarif_kelas == 12_960_000  # 10,800,000 x 1.2
    assert adult.total_tarif <= neonatal.total_tarif


def test_adult_sepsis_as_principal_on_a_neonate_does_not_out_pay_neonatal_sepsis() -> None:
    adult = grouped(group_claim(neonate("A41.9", "P07.1"), TABLES))
    neonatal = grouped(group_claim(neonate("P36.9", "P07.1"), TABLES))
    assert adult.total_tarif <= neonatal.total_tarif


def test_adult_sepsis_still_raises_an_adult_claim_to_iii() -> None:
    assert grouped(group_claim(make_claim(diagnosa=["K35.9", "A41.9"]), TABLES)).severity == "III"


def test_very_low_birth_weight_costs_more_than_a_normal_newborn() -> None:
    light = grouped(group_claim(neonate("P07.1", birth_weight=1200), TABLES))
    normal = grouped(group_claim(neonate("P59.9", birth_weight=3200), TABLES))
    assert (light.cbg_code, normal.cbg_code) == ("P-8-11-I", "P-8-17-I")
    assert light.tarif_kelas > normal.tarif_kelas


def test_outpatient_claims_carry_no_severity_figures() -> None:
    visit = make_claim(jenis_rawat=2, tgl_pulang=ADMITTED, diagnosa=["I10", "I50.0"])
    result = grouped(group_claim(visit, TABLES))
    assert result.severity == "0" and result.severity_basis == [] and result.tarif_by_severity == []
