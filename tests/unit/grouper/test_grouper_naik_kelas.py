"""Naik kelas and outpatient executive care: what the member pays on top of BPJS (PMK 3/2023 Art. 48).

The tariffs are written out: class 1 Rp 5,000,000, class 2 Rp 4,000,000, class 3 Rp 3,000,000, and every
expected amount is the arithmetic in the comment next to it.
"""

from __future__ import annotations

from typing import Any

import pytest

from services.grouper.domain import group_claim
from services.grouper.domain.pricing import upgrade_cost_share
from shared.events import ClaimData, TarifRS
from tests.unit.grouper.grouper_claim_factory import TABLES, grouped, make_claim, outpatient, rates, rejected

RATES = (5_000_000, 4_000_000, 3_000_000)
VIP_BILL = TarifRS(kamar=6_000_000, prosedur_bedah=6_000_000)  # Rp 12,000,000: above every class tariff
DEFAULT_PERCENT = 75  # GROUPER_UPGRADE_ABOVE_CLASS1_PERCENT's default


def upgrade(kelas_rawat: int, target: str, **changes: Any) -> ClaimData:
    """An inpatient claim in `kelas_rawat` upgraded to `target`, billed like a VIP stay unless told."""
    fields: dict[str, Any] = {"tarif_rs": VIP_BILL, **changes}
    return make_claim(kelas_rawat=kelas_rawat, upgrade_class_ind=True, upgrade_class_class=target, **fields)


def test_2_to_1_pays_the_class_1_minus_class_2_difference() -> None:
    # 5,000,000 - 4,000,000 = 1,000,000
    assert upgrade_cost_share(upgrade(2, "kelas_1"), RATES, DEFAULT_PERCENT) == 1_000_000


def test_3_to_2_pays_the_class_2_minus_class_3_difference() -> None:
    # 4,000,000 - 3,000,000 = 1,000,000
    assert upgrade_cost_share(upgrade(3, "kelas_2"), RATES, DEFAULT_PERCENT) == 1_000_000


def test_1_to_vip_pays_the_declared_35_percent_of_class_1() -> None:
    # 35 % x 5,000,000 = 1,750,000
    claim = upgrade(1, "vip", add_payment_pct=35, upgrade_class_los=3, upgrade_class_payor="peserta")
    assert upgrade_cost_share(claim, RATES, DEFAULT_PERCENT) == 1_750_000


def test_2_to_vip_pays_the_difference_plus_the_declared_75_percent_of_class_1() -> None:
    # (5,000,000 - 4,000,000) + 75 % x 5,000,000 = 1,000,000 + 3,750,000 = 4,750,000
    claim = upgrade(2, "vip", add_payment_pct=75, upgrade_class_payor="pemberi_kerja")
    assert upgrade_cost_share(claim, RATES, DEFAULT_PERCENT) == 4_750_000


def test_a_fractional_percent_rounds_half_up_to_whole_rupiah() -> None:
    # 12.5 % x 5,000,001 = 625,000.125 -> 625,000; 0.01 % x 5,000,000 = 500
    assert upgrade_cost_share(upgrade(1, "vip", add_payment_pct=12.5), (5_000_001, 4_000_000, 3_000_000), 75) == 625_000
    assert upgrade_cost_share(upgrade(1, "vip", add_payment_pct=0.01), RATES, DEFAULT_PERCENT) == 500


def test_without_a_declared_percent_the_setting_is_the_share() -> None:
    # 75 % x 5,000,000 = 3,750,000; with the setting at 40: 40 % x 5,000,000 = 2,000,000
    assert upgrade_cost_share(upgrade(1, "vip"), RATES, DEFAULT_PERCENT) == 3_750_000
    assert upgrade_cost_share(upgrade(1, "vip"), RATES, 40) == 2_000_000


def test_a_vip_stay_billed_within_the_entitled_tariff_costs_the_member_nothing() -> None:
    # Art. 48: the above-class-1 rules do not apply when the bill (4,000,000) does not exceed the entitled
    # class-2 tariff (4,000,000).
    claim = upgrade(2, "vip", add_payment_pct=75, tarif_rs=TarifRS(kamar=4_000_000))
    assert upgrade_cost_share(claim, RATES, DEFAULT_PERCENT) == 0


def test_a_declared_percent_above_75_is_refused_naming_the_field() -> None:
    claim = upgrade(1, "vip", diagnosa=["I10"], add_payment_pct=75.5)
    [refusal] = [r for r in rejected(group_claim(claim, TABLES)).reasons if r.code == "G-UPGRADE-PCT"]
    assert refusal.field == "add_payment_pct"
    assert "75.5" in refusal.message_en and "75%" in refusal.message_en


def test_the_grouper_prices_2_to_vip_from_its_tariff_table() -> None:
    claim = upgrade(2, "vip", diagnosa=["I10"], add_payment_pct=35, tarif_rs=TarifRS(kamar=30_000_000))
    result = grouped(group_claim(claim, TABLES))
    class_1, class_2, _ = rates(result.cbg_code)  # the table is the source of the tariffs, not the arithmetic
    assert result.upgrade_cost_share == (class_1 - class_2) + (class_1 * 35 + 50) // 100
    assert result.tarif_kelas == class_2  # BPJS pays the entitled class


# ----------------------------------------------------------------------------- outpatient executive


@pytest.mark.parametrize(
    ("tarif_poli_eks", "member_pays"),
    [(250_000, 250_000), (400_000, 400_000), (650_000, 400_000), (None, 0)],
    ids=["below-the-cap", "at-the-cap", "capped-at-400000", "no-fee-declared"],
)
def test_an_executive_visit_costs_the_members_the_clinic_fee_up_to_400000(
    tarif_poli_eks: int | None, member_pays: int
) -> None:
    visit = outpatient(diagnosa=["I10"], kelas_rawat=1, tarif_poli_eks=tarif_poli_eks)
    result = grouped(group_claim(visit, TABLES))
    assert result.upgrade_cost_share == member_pays
    regular = grouped(group_claim(outpatient(diagnosa=["I10"], kelas_rawat=3), TABLES))
    assert result.tarif_kelas == regular.tarif_kelas  # BPJS pays the outpatient tariff either way
    assert regular.upgrade_cost_share is None


def test_the_executive_cap_is_a_setting() -> None:
    visit = outpatient(diagnosa=["I10"], kelas_rawat=1, tarif_poli_eks=650_000)
    assert grouped(group_claim(visit, TABLES, executive_outpatient_max=500_000)).upgrade_cost_share == 500_000
