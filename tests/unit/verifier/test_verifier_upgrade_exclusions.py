"""Who may pay for a better class or outpatient executive care (Perpres 59/2024 Art. 51(3); PMK 3/2023 Art. 48)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from services.verifier.cli import parse_participants
from services.verifier.domain import Outcome, Participant
from services.verifier.domain.eligibility import UPGRADE_EXCLUSIONS, eligibility_findings
from shared.events import ClaimData

# (member_type, kelas_hak, member_category) of each excluded kind of member, and the rule that refuses it.
EXCLUDED = [
    pytest.param("PBI", 3, None, "V-ELIG-UPGRADE-PBI", id="PBI"),
    pytest.param("PBPU", 3, None, "V-ELIG-UPGRADE-CLASS3", id="PBPU-class-III"),
    pytest.param("BP", 3, None, "V-ELIG-UPGRADE-CLASS3", id="BP-class-III"),
    pytest.param("PPU", 2, "ppu_phk", "V-ELIG-UPGRADE-PHK", id="laid-off-PPU"),
    pytest.param("PBPU", 2, "pemda", "V-ELIG-UPGRADE-PEMDA", id="registered-by-local-government"),
]


def as_member(member: Participant, member_type: Any, kelas_hak: int, category: Any) -> Participant:
    return replace(member, member_type=member_type, kelas_hak=kelas_hak, member_category=category)


@pytest.mark.parametrize(("member_type", "kelas_hak", "category", "rule"), EXCLUDED)
def test_an_excluded_member_asking_for_an_upgrade_is_refused_by_its_rule(
    claim: ClaimData, member: Participant, member_type: str, kelas_hak: int, category: str | None, rule: str
) -> None:
    # Entitled to class 3 (or 2), in class 3 (or 2), asking for VIP.
    upgraded = claim.model_copy(
        update={"kelas_rawat": kelas_hak, "upgrade_class_ind": True, "upgrade_class_class": "vip"}
    )
    [found] = eligibility_findings(upgraded, [as_member(member, member_type, kelas_hak, category)])
    assert (found.reason.code, found.outcome, found.reason.field) == (rule, Outcome.REJECT, "upgrade_class_ind")
    assert f"{member_type}, kelas_hak {kelas_hak}" in found.reason.message_en


@pytest.mark.parametrize(("member_type", "kelas_hak", "category", "rule"), EXCLUDED)
def test_an_excluded_member_in_an_executive_outpatient_clinic_is_refused_by_its_rule(
    claim: ClaimData, member: Participant, member_type: str, kelas_hak: int, category: str | None, rule: str
) -> None:
    visit = claim.model_copy(
        update={"jenis_rawat": 2, "kelas_rawat": 1, "tgl_pulang": claim.tgl_masuk, "tarif_poli_eks": 300_000}
    )
    [found] = eligibility_findings(visit, [as_member(member, member_type, kelas_hak, category)])
    assert (found.reason.code, found.reason.field) == (rule, "kelas_rawat")


@pytest.mark.parametrize(("member_type", "kelas_hak", "category", "rule"), EXCLUDED)
def test_an_excluded_member_in_the_entitled_class_passes(
    claim: ClaimData, member: Participant, member_type: str, kelas_hak: int, category: str | None, rule: str
) -> None:
    in_class = claim.model_copy(update={"kelas_rawat": kelas_hak})
    assert eligibility_findings(in_class, [as_member(member, member_type, kelas_hak, category)]) == []
    regular_visit = claim.model_copy(update={"jenis_rawat": 2, "kelas_rawat": 3, "tgl_pulang": claim.tgl_masuk})
    assert eligibility_findings(regular_visit, [as_member(member, member_type, kelas_hak, category)]) == []


@pytest.mark.parametrize(
    ("member_type", "kelas_hak", "target"),
    [("PPU", 2, "kelas_1"), ("PPU", 1, "vip"), ("PBPU", 2, "vip"), ("BP", 1, "vip")],
)
def test_members_outside_the_exclusions_may_upgrade(
    claim: ClaimData, member: Participant, member_type: str, kelas_hak: int, target: str
) -> None:
    upgraded = claim.model_copy(
        update={"kelas_rawat": kelas_hak, "upgrade_class_ind": True, "upgrade_class_class": target}
    )
    assert eligibility_findings(upgraded, [as_member(member, member_type, kelas_hak, None)]) == []


def test_an_entitled_member_may_use_an_executive_outpatient_clinic(claim: ClaimData, member: Participant) -> None:
    visit = claim.model_copy(update={"jenis_rawat": 2, "kelas_rawat": 1, "tgl_pulang": claim.tgl_masuk})
    assert eligibility_findings(visit, [as_member(member, "PPU", 3, None)]) == []  # outpatient care has no class


def test_every_exclusion_names_its_regulation() -> None:
    assert [x.rule for x in UPGRADE_EXCLUSIONS] == [
        "V-ELIG-UPGRADE-PBI",
        "V-ELIG-UPGRADE-CLASS3",
        "V-ELIG-UPGRADE-PHK",
        "V-ELIG-UPGRADE-PEMDA",
    ]
    assert all("Perpres 82/2018 Art. 51(3)" in x.source and "Perpres 59/2024" in x.source for x in UPGRADE_EXCLUSIONS)


def test_a_membership_csv_may_carry_the_member_category() -> None:
    header = "nomor_kartu,nik,status,status_reason,kelas_hak,member_type,valid_from,valid_to"
    row = "0001234567890,3171010101700002,active,,2,PBPU,2026-01-01,"
    with_category, errors = parse_participants(f"{header},member_category\n{row},pemda\n{row},\n")
    assert errors == []
    assert [p.member_category for p in with_category] == ["pemda", None]
    without_category, errors = parse_participants(f"{header}\n{row}\n")
    assert errors == [] and without_category[0].member_category is None
    _, errors = parse_participants(f"{header},member_category\n{row},pbi_daerah\n")
    assert len(errors) == 1 and errors[0].startswith("line 2: member_category:")
