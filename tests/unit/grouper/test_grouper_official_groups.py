"""Groups follow INA-CBG's structure and carry the official v5 codes and names (official_cbg_v5.csv)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.grouper.domain import group_claim
from tests.unit.grouper.grouper_claim_factory import TABLES, grouped, make_claim, outpatient

TABLES_DIR = Path(__file__).resolve().parents[3] / "services" / "grouper" / "data"


@pytest.mark.parametrize("principal", ["N18.5", "Z49.1"])
def test_haemodialysis_is_one_group_whether_coded_as_kidney_failure_or_dialysis_encounter(principal: str) -> None:
    result = grouped(group_claim(outpatient(diagnosa=[principal], procedure=["39.95"]), TABLES))
    assert (result.cbg_code, result.cbg_description) == ("N-3-15-0", "PROSEDUR DIALISIS")


@pytest.mark.parametrize(
    ("tumour", "cbg", "name"),
    [
        ("C50.9", "C-3-13-0", "KEMOTERAPI PADA TUMOR PAYUDARA ATAU OVARIUM"),
        ("C34.1", "C-3-11-0", "KEMOTERAPI PADA TUMOR PARU & KANDUNG KEMIH"),
        ("C18.7", "C-3-12-0", "KEMOTERAPI PADA TUMOR KOLON"),
        ("C53.9", "C-3-21-0", "KEMOTERAPI PADA TUMOR GINEKOLOGI"),
        ("C91.0", "C-3-18-0", "KEMOTERAPI PADA LEUKEMIA AKUT"),
        ("Z51.1", "C-3-23-0", "KEMOTERAPI PADA TUMOR LAIN-LAIN"),
    ],
)
def test_outpatient_chemotherapy_groups_by_tumour_site_not_by_body_system(tumour: str, cbg: str, name: str) -> None:
    result = grouped(group_claim(outpatient(diagnosa=[tumour], procedure=["99.25"], gender=2), TABLES))
    assert (result.cbg_code, result.cbg_description) == (cbg, name)


def test_deliveries_use_the_official_codes() -> None:
    mother = {"gender": 2, "tgl_lahir": make_claim().tgl_lahir.replace(year=1995)}
    caesarean = grouped(group_claim(make_claim(diagnosa=["O82.0"], procedure=["74.1"], **mother), TABLES))
    vaginal = grouped(group_claim(make_claim(diagnosa=["O80.0"], **mother), TABLES))
    assert caesarean.cbg_code == "O-6-10-I" and caesarean.cbg_description == "OPERASI PEMBEDAHAN CAESAR RINGAN"
    assert vaginal.cbg_code == "O-6-13-I" and vaginal.cbg_description == "PERSALINAN VAGINAL RINGAN"


def test_an_outpatient_visit_without_a_procedure_lands_in_the_ambulatory_cmg() -> None:
    result = grouped(group_claim(outpatient(diagnosa=["J45.9"]), TABLES))
    assert (result.cbg_code, result.cmg, result.case_type) == ("Q-5-26-0", "Q", 5)


def test_every_produced_group_is_an_official_v5_code() -> None:
    official = {line.split(",", 1)[0] for line in (TABLES_DIR / "official_cbg_v5.csv").read_text().splitlines()}
    assert {g.base_code for g in TABLES.groups.all_groups} <= official
