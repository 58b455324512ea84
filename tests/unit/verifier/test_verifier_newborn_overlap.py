"""A healthy newborn belongs to the mother's delivery; overlapping stays under two SEPs go to a reviewer."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from services.verifier.domain import ClaimCheck, Episode, Outcome, Participant, VerificationPolicy, verify
from services.verifier.domain.newborn import healthy_newborn_findings
from services.verifier.domain.overlap import overlap_findings
from shared.events import ClaimData, DocumentRef, GroupingResult

BORN = date(2026, 3, 2)


def newborn(claim: ClaimData, *diagnoses: str) -> ClaimData:
    """A baby born in hospital on 2 March, staying 3 days."""
    return claim.model_copy(
        update={
            "tgl_lahir": BORN,
            "tgl_masuk": BORN,
            "tgl_pulang": BORN + timedelta(days=3),
            "birth_weight": 3100,
            "diagnosa": list(diagnoses),
            "documents": [DocumentRef(doc_type="resume_medis", ref="RM-B", supports=list(diagnoses))],
        }
    )


def baby_check(claim: ClaimData, grouping: GroupingResult, member: Participant) -> ClaimCheck:
    """The baby's claim, with the baby's own card active."""
    return ClaimCheck("c-baby", claim, grouping, BORN, participant_history=[replace(member, valid_from=BORN)])


def test_z38_0_alone_is_not_separately_payable(claim: ClaimData, grouping: GroupingResult, member: Participant) -> None:
    decision = verify(baby_check(newborn(claim, "Z38.0"), grouping, member), VerificationPolicy())
    assert decision.outcome == Outcome.REJECT
    assert decision.approved_amount == 0
    [reason] = decision.reasons
    assert (reason.code, reason.field) == ("V-NEWBORN-HEALTHY", "diagnosa[0]")
    assert "mother's delivery package" in reason.message_en


@pytest.mark.parametrize("condition", ["P36.9", "P07.1", "P59.9", "Q21.0", "P00.0"])
def test_z38_0_with_a_neonatal_condition_is_payable(
    claim: ClaimData, grouping: GroupingResult, member: Participant, condition: str
) -> None:
    decision = verify(baby_check(newborn(claim, "Z38.0", condition), grouping, member), VerificationPolicy())
    assert decision.outcome == Outcome.VERIFY
    assert decision.approved_amount == grouping.total_tarif


@pytest.mark.parametrize("diagnoses", [("Z38.0", "Z76.2"), ("Z380",), ("Z38.3", "R68.8")])
def test_other_healthy_newborn_spellings_and_non_neonatal_secondaries_are_still_bundled(
    claim: ClaimData, diagnoses: tuple[str, ...]
) -> None:
    assert [f.reason.code for f in healthy_newborn_findings(newborn(claim, *diagnoses))] == ["V-NEWBORN-HEALTHY"]


def test_a_sick_baby_coded_with_a_neonatal_principal_is_not_this_rules_business(claim: ClaimData) -> None:
    assert healthy_newborn_findings(newborn(claim, "P36.9", "Z38.0")) == []


# ----------------------------------------------------------------------------- overlapping episodes


def episode(claim_id: str, admitted: date, discharged: date, sep: str, jenis_rawat: int = 1) -> Episode:
    return Episode(claim_id, jenis_rawat, discharged, "J", tgl_masuk=admitted, nomor_sep=sep)


OTHER_SEP = "0302R0020326V000009"


def test_a_stay_overlapping_another_sep_of_the_member_is_held_for_review(
    claim: ClaimData, grouping: GroupingResult, member: Participant
) -> None:
    # This stay: 2-6 March. The other: 4-8 March at another hospital.
    other = episode("c-other", date(2026, 3, 4), date(2026, 3, 8), OTHER_SEP)
    check = ClaimCheck(
        "c-this", claim, grouping, claim.tgl_masuk, participant_history=[member], earlier_episodes=[other]
    )
    decision = verify(check, VerificationPolicy())
    assert decision.outcome == Outcome.REVIEW
    [reason] = decision.reasons
    assert (reason.code, reason.field) == ("V-EPISODE-OVERLAP", "tgl_masuk")
    assert "2026-03-02..2026-03-06" in reason.message_en and "c-other 2026-03-04..2026-03-08" in reason.message_en


@pytest.mark.parametrize(
    ("admitted", "discharged", "sep", "jenis_rawat"),
    [
        (date(2026, 3, 6), date(2026, 3, 9), OTHER_SEP, 1),  # referred on discharge day: shares a boundary day
        (date(2026, 2, 25), date(2026, 3, 2), OTHER_SEP, 1),  # discharged on this admission day
        (date(2026, 3, 3), date(2026, 3, 3), OTHER_SEP, 2),  # an outpatient visit during the stay
        (date(2026, 3, 3), date(2026, 3, 5), "0301R0010326V000001", 1),  # the same SEP: V-DUP-SEP's business
    ],
    ids=["referred-same-day", "admitted-on-the-other-discharge", "outpatient", "same-sep"],
)
def test_stays_that_do_not_overlap_under_another_sep_pass(
    claim: ClaimData, admitted: date, discharged: date, sep: str, jenis_rawat: int
) -> None:
    assert overlap_findings("c-this", claim, [episode("c-other", admitted, discharged, sep, jenis_rawat)]) == []


def test_an_episode_recorded_without_its_admission_date_is_not_judged(claim: ClaimData) -> None:
    legacy = Episode("c-old", 1, date(2026, 3, 4), "J")
    assert overlap_findings("c-this", claim, [legacy]) == []
