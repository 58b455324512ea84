"""E-Klaim's fields into a draft and the draft into ClaimData: formats, partial updates, refusals."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from services.gateway.domain import claim, eklaim
from services.gateway.domain.errors import EklaimError
from services.gateway.domain.principal import Caller
from shared.events import ClaimData
from tests.support.factories import example

HOSPITAL = Caller("1001", "hospital", "0301R001", "RS", kode_tarif="BP", regional_tarif=1)
SEP = "0301R0011126V000001"
PATIENT = {"nomor_kartu": "0001234567890", "nomor_sep": SEP, "nomor_rm": "1", "nama_pasien": "A",
           "tgl_lahir": "1968-04-02 02:00:00", "gender": "1"}  # fmt: skip
FIELDS = {"tgl_masuk": "2026-11-02 12:55:00", "tgl_pulang": "2026-11-08 09:55:00", "jenis_rawat": "1",
          "kelas_rawat": "3", "diagnosa": "K35.9#E11.9", "procedure": "47.09#86.28+2", "coder_nik": "123",
          "tarif_rs": {"kamar": "800000", "obat": "530000"}}  # fmt: skip


def drafted(**changes: Any) -> eklaim.Draft:
    return eklaim.set_claim_data(eklaim.new_claim(PATIENT), FIELDS | changes)[0]


def refusal(fn: Any, *args: Any) -> tuple[str, str | None]:
    with pytest.raises(EklaimError) as caught:
        fn(*args)
    return caught.value.error_no, caught.value.field


def test_string_numbers_hash_lists_and_date_times_become_the_contracts_values() -> None:
    data = claim.claim_data(drafted(), SEP, HOSPITAL)
    assert data.model_dump(include={"kode_rs", "kelas_rs", "regional_tarif", "tgl_masuk", "tgl_pulang",
                                    "jenis_rawat", "kelas_rawat", "diagnosa", "procedure", "gender"}) == {
        "kode_rs": "0301R001", "kelas_rs": "BP", "regional_tarif": 1, "tgl_masuk": date(2026, 11, 2),
        "tgl_pulang": date(2026, 11, 8), "jenis_rawat": 1, "kelas_rawat": 3,
        "diagnosa": ["K35.9", "E11.9"], "procedure": [{"code": "47.09", "qty": 1}, {"code": "86.28", "qty": 2}],
        "gender": 1,
    }  # fmt: skip
    assert data.tarif_rs.total() == 1_330_000


def test_a_partial_update_keeps_what_it_leaves_out_and_hash_clears_a_list() -> None:
    draft = drafted()
    after, _ = eklaim.set_claim_data(draft, {"coder_nik": "123", "procedure": "#", "diagnosa": "",
                                             "tarif_rs": {"obat": "1000"}})  # fmt: skip
    assert after["procedure"] == [] and after["diagnosa"] == ["K35.9", "E11.9"]
    assert after["tarif_rs"] == {"kamar": 800000, "obat": 1000}
    assert after["tgl_masuk"] == draft["tgl_masuk"]


def test_the_icu_indicator_the_emergency_admission_and_zero_weights_map_as_e_klaim_means_them() -> None:
    data = claim.claim_data(drafted(icu_indikator="1", icu_los="2", cara_masuk="emd", birth_weight="0",
                                    tarif_poli_eks="0"), SEP, HOSPITAL)  # fmt: skip
    assert (data.icu_days, data.emergency, data.birth_weight, data.tarif_poli_eks) == (2, True, None, None)
    without = claim.claim_data(drafted(icu_indikator="0", icu_los="2"), SEP, HOSPITAL)
    assert without.icu_days == 0


def test_the_ventilator_element_counts_started_hours_when_ventilator_hour_is_not_given() -> None:
    draft = drafted(
        ventilator={"use_ind": "1", "start_dttm": "2026-11-03 12:55:00", "stop_dttm": "2026-11-03 17:50:00"}
    )
    assert draft["ventilator_hour"] == 5


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"tgl_pulang": "2026-11-01 00:00:00"}, ("E2012", "tgl_pulang")),
        ({"tgl_masuk": "2026-02-30 10:00:00"}, ("E2019", "tgl_masuk")),
        ({"tgl_masuk": "02/11/2026"}, ("E2019", "tgl_masuk")),
        ({"jenis_rawat": "3"}, ("E2028", "jenis_rawat")),
        ({"kelas_rawat": "satu"}, ("E2030", "kelas_rawat")),
        ({"kode_tarif": "ZZ"}, ("E2014", "kode_tarif")),
        ({"diagnosa": "K35.9#not-a-code"}, ("E2030", "diagnosa")),
        ({"procedure": "47.09+100"}, ("E2030", "procedure")),
        ({"tarif_rs": {"kamar": "-"}}, ("E2030", "tarif_rs.kamar")),
        ({"tarif_rs": {"parkir": "1"}}, ("E2030", "tarif_rs.parkir")),
        ({"icu_indikator": "1", "icu_los": "9"}, ("E2013", "icu_los")),
        ({"upgrade_class_ind": "1", "upgrade_class_class": "vip"}, ("E2065", "upgrade_class_ind")),
        ({"upgrade_class_payor": "tetangga"}, ("E2064", "upgrade_class_payor")),
        ({"coder_nik": ""}, ("E2005", "coder_nik")),
    ],
)
def test_set_claim_data_refuses_with_the_error_number_and_the_field(changes: dict[str, Any], expected: Any) -> None:
    assert refusal(eklaim.set_claim_data, eklaim.new_claim(PATIENT), FIELDS | changes) == expected


def test_claim_final_refuses_what_is_missing_and_an_upgrade_without_its_payor() -> None:
    assert refusal(claim.claim_data, eklaim.new_claim(PATIENT) | {"coder_nik": "1"}, SEP, HOSPITAL) == (
        "E2030", "tgl_masuk")  # fmt: skip
    upgraded = drafted(kelas_rawat="2", upgrade_class_ind="1", upgrade_class_class="kelas_1", upgrade_class_los="2")
    assert refusal(claim.claim_data, upgraded, SEP, HOSPITAL) == ("E2064", "upgrade_class_payor")
    no_setup = Caller("1002", "hospital", "0301R001")
    assert refusal(claim.claim_data, drafted(kode_tarif="BP"), SEP, no_setup) == ("E2015", "kode_rs")
    assert refusal(claim.claim_data, drafted(discharge_status="1") | {"adl_chronic": 70}, SEP, HOSPITAL) == (
        "E2030", "adl_chronic")  # the contract's own bound, named in E-Klaim's terms  # fmt: skip


def test_a_new_claim_needs_every_mandatory_field_and_keeps_no_name() -> None:
    assert refusal(eklaim.new_claim, {k: v for k, v in PATIENT.items() if k != "nama_pasien"}) == (
        "E2030", "nama_pasien")  # fmt: skip
    assert eklaim.new_claim(PATIENT) == {
        "nomor_kartu": "0001234567890",
        "tgl_lahir": "1968-04-02 02:00:00",
        "gender": 1,
    }


def test_a_contract_claim_survives_the_trip_through_a_draft() -> None:
    original = ClaimData.model_validate(example("ClaimSubmitted")["payload"]["claim"])
    caller = Caller("1001", "hospital", original.kode_rs, regional_tarif=None)
    again = claim.claim_data(claim.draft_from_contract(original), original.nomor_sep, caller)
    assert again == original


def test_get_claim_data_answers_in_e_klaims_strings() -> None:
    shown = claim.get_claim_data(drafted(), SEP, final=False, view=None)
    assert (shown["diagnosa"], shown["procedure"], shown["tarif_rs"]["kamar"], shown["jenis_rawat"]) == (
        "K35.9#E11.9", "47.09#86.28+2", "800000", "1")  # fmt: skip
    assert (shown["status_klaim"], shown["los"]) == ("1", "6")
