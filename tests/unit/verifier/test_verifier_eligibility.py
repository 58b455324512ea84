"""Eligibility: known participant, matching card and SEP, active on the SEP date, class entitlement, who may upgrade."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, timedelta

import pytest

from services.verifier.domain import Finding, Outcome, Participant
from services.verifier.domain.eligibility import (
    ParticipantStatus,
    eligibility_findings,
    record_on,
    sep_hospital_findings,
    service_date,
)
from shared.events import ClaimData, ParticipantChangedPayload


def codes(findings: Sequence[Finding]) -> list[str]:
    return [f.reason.code for f in findings]


def test_active_member_entitled_to_the_class_passes(claim: ClaimData, member: Participant) -> None:
    assert eligibility_findings(claim, [member]) == []


def test_unknown_participant_is_rejected(claim: ClaimData) -> None:
    [found] = eligibility_findings(claim, [])
    assert (found.reason.code, found.outcome, found.reason.field) == ("V-ELIG-UNKNOWN", Outcome.REJECT, "nomor_kartu")


def test_card_not_matching_the_record_is_rejected(claim: ClaimData, member: Participant) -> None:
    other_card = replace(member, nomor_kartu="0009999999999")
    [found] = eligibility_findings(claim, [other_card])
    assert found.reason.code == "V-ELIG-CARD" and found.outcome == Outcome.REJECT
    assert "0009999999999" in found.reason.message_en


def test_membership_lapsing_mid_stay_does_not_reject_the_stay(claim: ClaimData, member: Participant) -> None:
    # Active on the SEP (admission) date 2 March; the record ends on 3 March, the stay runs to 6 March.
    ends_mid_stay = replace(member, valid_to=claim.tgl_masuk + timedelta(days=1))
    lapsed = replace(member, status="inactive", status_reason="tunggakan", valid_from=claim.tgl_masuk + timedelta(2))
    assert eligibility_findings(claim, [ends_mid_stay]) == []
    assert eligibility_findings(claim, [member, lapsed]) == []


def test_record_ending_the_day_before_admission_is_rejected_naming_the_sep_date(
    claim: ClaimData, member: Participant
) -> None:
    ended = replace(member, valid_to=claim.tgl_masuk - timedelta(days=1))
    [found] = eligibility_findings(claim, [ended])
    assert (found.reason.code, found.outcome, found.reason.field) == ("V-ELIG-INACTIVE", Outcome.REJECT, "tgl_masuk")
    assert "2026-03-02, no record" in found.reason.message_en


def test_record_starting_after_admission_is_rejected(claim: ClaimData, member: Participant) -> None:
    starts_late = replace(member, valid_from=claim.tgl_masuk + timedelta(days=1))
    assert codes(eligibility_findings(claim, [starts_late])) == ["V-ELIG-INACTIVE"]


@pytest.mark.parametrize("status", ["inactive", "suspended"])
def test_later_non_active_record_supersedes_an_open_ended_one(
    claim: ClaimData, member: Participant, status: ParticipantStatus
) -> None:
    change = replace(member, status=status, status_reason="tunggakan iuran", valid_from=claim.tgl_masuk)
    [found] = eligibility_findings(claim, [member, change])
    assert found.reason.code == "V-ELIG-INACTIVE"
    assert f"{status}: tunggakan iuran" in found.reason.message_en


def test_a_period_starting_on_the_admission_date_covers_the_stay(claim: ClaimData, member: Participant) -> None:
    first = replace(member, valid_to=claim.tgl_masuk - timedelta(days=1))
    second = replace(member, valid_from=claim.tgl_masuk)
    assert eligibility_findings(claim, [first, second]) == []


def test_reactivation_after_a_suspension_before_admission_passes(claim: ClaimData, member: Participant) -> None:
    suspended = replace(member, status="suspended", valid_from=date(2025, 1, 1))
    reactivated = replace(member, valid_from=date(2025, 6, 1))
    assert eligibility_findings(claim, [member, suspended, reactivated]) == []


def test_same_valid_from_the_later_record_wins(member: Participant) -> None:
    corrected = replace(member, status="inactive")
    assert record_on([member, corrected], date(2026, 3, 2)) is corrected
    assert record_on([corrected, member], date(2026, 3, 2)) is member
    assert record_on([member], date(2019, 12, 31)) is None


def test_the_service_date_is_the_sep_admission_date(claim: ClaimData) -> None:
    assert service_date(claim) == date(2026, 3, 2) == claim.tgl_masuk


@pytest.mark.parametrize(
    ("kelas_rawat", "kelas_hak", "upgrade", "expected"),
    [
        (3, 3, False, []),  # entitled class
        (3, 1, False, []),  # a lower class than entitled is within entitlement
        (2, 3, False, ["V-ELIG-CLASS"]),  # better class without upgrade
        (1, 3, False, ["V-ELIG-CLASS"]),
        (2, 3, True, []),  # permitted upgrade
        (1, 2, True, []),
    ],
)
def test_care_class_within_entitlement_or_upgraded(
    claim: ClaimData, member: Participant, kelas_rawat: int, kelas_hak: int, upgrade: bool, expected: list[str]
) -> None:
    upgraded = claim.model_copy(update={"kelas_rawat": kelas_rawat, "upgrade_class_ind": upgrade})
    assert codes(eligibility_findings(upgraded, [replace(member, kelas_hak=kelas_hak)])) == expected


@pytest.mark.parametrize(("kelas_rawat", "upgrade"), [(2, True), (2, False), (3, True)])
def test_pbi_members_cannot_upgrade(claim: ClaimData, member: Participant, kelas_rawat: int, upgrade: bool) -> None:
    pbi = replace(member, member_type="PBI")
    upgraded = claim.model_copy(update={"kelas_rawat": kelas_rawat, "upgrade_class_ind": upgrade})
    [found] = eligibility_findings(upgraded, [pbi])
    assert (found.reason.code, found.outcome) == ("V-ELIG-UPGRADE-PBI", Outcome.REJECT)


def test_pbi_member_in_the_entitled_class_passes(claim: ClaimData, member: Participant) -> None:
    assert eligibility_findings(claim, [replace(member, member_type="PBI")]) == []


def test_the_entitlement_is_the_one_in_force_on_the_sep_date(claim: ClaimData, member: Participant) -> None:
    class_2 = replace(member, kelas_hak=2)
    lowered_mid_stay = replace(member, kelas_hak=3, valid_from=claim.tgl_pulang)
    lowered_on_admission = replace(member, kelas_hak=3, valid_from=claim.tgl_masuk)
    in_class_2 = claim.model_copy(update={"kelas_rawat": 2})
    assert eligibility_findings(in_class_2, [class_2, lowered_mid_stay]) == []
    assert codes(eligibility_findings(in_class_2, [class_2, lowered_on_admission])) == ["V-ELIG-CLASS"]


def test_participant_from_a_changed_event() -> None:
    payload = ParticipantChangedPayload(
        nomor_kartu="0001234567890",
        nik="3171010101700002",
        status="suspended",
        status_reason="tunggakan",
        kelas_hak=2,
        member_type="PBPU",
        valid_from=date(2026, 1, 1),
        valid_to=date(2026, 12, 31),
    )
    record = Participant.from_payload(payload)
    assert record == Participant(
        "0001234567890", "3171010101700002", "suspended", 2, "PBPU", date(2026, 1, 1), date(2026, 12, 31), "tunggakan"
    )


def test_sep_issued_for_another_hospital_is_rejected(claim: ClaimData) -> None:
    other = claim.model_copy(update={"nomor_sep": "0302R0020326V000001"})
    [found] = sep_hospital_findings(other)
    assert (found.reason.code, found.outcome, found.reason.field) == (
        "V-ELIG-SEP-HOSPITAL",
        Outcome.REJECT,
        "nomor_sep",
    )


@pytest.mark.parametrize("sep", ["0301R0010326V000001", "SHORT-SEP"])
def test_sep_of_this_hospital_or_malformed_is_not_this_rules_business(claim: ClaimData, sep: str) -> None:
    assert sep_hospital_findings(claim.model_copy(update={"nomor_sep": sep})) == []
