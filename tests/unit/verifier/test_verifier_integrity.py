"""Integrity rules: duplicate SEP, readmission, length of stay, severity upcoding, claim expiry."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from services.verifier.domain import Episode, Outcome, VerificationPolicy
from services.verifier.domain.integrity import (
    duplicate_sep_findings,
    expiry_findings,
    los_findings,
    readmission_findings,
    severity_findings,
)
from shared.events import ClaimData, DocumentRef, GroupingResult, SeverityBasis, TariffBySeverity

# --------------------------------------------------------------------------- duplicate SEP


def test_sep_verified_in_another_claim_is_rejected(claim: ClaimData) -> None:
    [found] = duplicate_sep_findings("C-2", claim, {"C-1"})
    assert (found.reason.code, found.outcome, found.reason.field) == ("V-DUP-SEP", Outcome.REJECT, "nomor_sep")
    assert "C-1" in found.reason.message_en


def test_a_sep_claimed_many_times_names_a_few_and_counts_the_rest(claim: ClaimData) -> None:
    # 2,000 duplicates once made a reason too long for the contract, and the event went to the DLQ.
    verified = {f"C-{n:04d}" for n in range(2000)}
    [found] = duplicate_sep_findings("C-9999", claim, verified)
    assert "C-0000, C-0001, C-0002, C-0003, C-0004 (+1995 more)" in found.reason.message_en
    assert len(found.reason.message_en) < 300


@pytest.mark.parametrize("verified", [set(), {"C-2"}])
def test_sep_not_verified_elsewhere_passes(claim: ClaimData, verified: set[str]) -> None:
    assert duplicate_sep_findings("C-2", claim, verified) == []


# --------------------------------------------------------------------------- readmission


def episode(claim: ClaimData, days_before_admission: int, cmg: str = "J", jenis_rawat: int = 1) -> Episode:
    return Episode("C-0", jenis_rawat, claim.tgl_masuk - timedelta(days=days_before_admission), cmg)


@pytest.mark.parametrize("gap", [0, 1, 30])
def test_readmission_in_the_same_cmg_within_30_days_is_held(
    claim: ClaimData, grouping: GroupingResult, policy: VerificationPolicy, gap: int
) -> None:
    [found] = readmission_findings("C-1", claim, grouping, [episode(claim, gap)], policy)
    assert (found.reason.code, found.outcome) == ("V-READMIT", Outcome.REVIEW)
    assert "C-0" in found.reason.message_en


@pytest.mark.parametrize(
    ("prior", "claim_id"),
    [
        (dict(days_before_admission=31), "C-1"),  # outside the window
        (dict(days_before_admission=-1), "C-1"),  # discharged after this admission
        (dict(days_before_admission=5, cmg="K"), "C-1"),  # another CMG
        (dict(days_before_admission=5, jenis_rawat=2), "C-1"),  # an outpatient visit
        (dict(days_before_admission=5), "C-0"),  # the claim itself
    ],
)
def test_no_readmission(
    claim: ClaimData,
    grouping: GroupingResult,
    policy: VerificationPolicy,
    prior: dict[str, int | str],
    claim_id: str,
) -> None:
    assert readmission_findings(claim_id, claim, grouping, [episode(claim, **prior)], policy) == []  # type: ignore[arg-type]


def test_outpatient_claims_are_not_readmissions(
    claim: ClaimData, grouping: GroupingResult, policy: VerificationPolicy
) -> None:
    visit = claim.model_copy(update={"jenis_rawat": 2})
    assert readmission_findings("C-1", visit, grouping, [episode(claim, 3)], policy) == []


def test_readmission_window_is_a_setting(claim: ClaimData, grouping: GroupingResult) -> None:
    assert (
        readmission_findings("C-1", claim, grouping, [episode(claim, 20)], VerificationPolicy(readmission_days=14))
        == []
    )


# --------------------------------------------------------------------------- length of stay


def stay(claim: ClaimData, days: int) -> ClaimData:
    return claim.model_copy(update={"tgl_pulang": claim.tgl_masuk + timedelta(days=days)})


@pytest.mark.parametrize("days", [2, 4, 10])
def test_stay_inside_the_range_passes(claim: ClaimData, grouping: GroupingResult, days: int) -> None:
    assert los_findings(stay(claim, days), grouping) == []  # J-4: 2-10 days


@pytest.mark.parametrize("days", [0, 1, 11, 30])
def test_stay_outside_the_range_is_held(claim: ClaimData, grouping: GroupingResult, days: int) -> None:
    [found] = los_findings(stay(claim, days), grouping)
    assert (found.reason.code, found.outcome, found.reason.field) == ("V-LOS-RANGE", Outcome.REVIEW, "tgl_pulang")
    assert "/ 2-10" in found.reason.message_en


@pytest.mark.parametrize(("days", "held"), [(20, False), (21, True)])
def test_unlisted_group_uses_the_default_range(
    claim: ClaimData, grouping: GroupingResult, days: int, held: bool
) -> None:
    unlisted = grouping.model_copy(update={"cmg": "Z", "case_type": 4})
    assert bool(los_findings(stay(claim, days), unlisted)) is held


def test_outpatient_length_of_stay_is_not_checked(claim: ClaimData, grouping: GroupingResult) -> None:
    assert los_findings(stay(claim, 30).model_copy(update={"jenis_rawat": 2}), grouping) == []


# --------------------------------------------------------------------------- severity (upcoding)


@pytest.fixture
def severe(grouping: GroupingResult) -> GroupingResult:
    """J-4-16-III raised by the MCC J96.0 and the CC E87.1; the same group's class-3 tariffs at I, II, III."""
    return grouping.model_copy(
        update={
            "severity": "III",
            "cbg_code": "J-4-16-III",
            "tarif_kelas": 8_800_000,
            "severity_basis": [SeverityBasis(code="J96.0", level="MCC"), SeverityBasis(code="E87.1", level="CC")],
            "tarif_by_severity": [
                TariffBySeverity(severity="I", tarif=4_000_000),
                TariffBySeverity(severity="II", tarif=6_000_000),
                TariffBySeverity(severity="III", tarif=8_800_000),
            ],
        }
    )


def secondaries(claim: ClaimData, *supports: str) -> ClaimData:
    """J18.9 with J96.0 (MCC), E87.1 (CC) and I10 (not a CC); a result supports the codes given."""
    docs = [*claim.documents, DocumentRef(doc_type="supporting_result", ref="S-1", supports=list(supports))]
    return claim.model_copy(update={"diagnosa": ["J18.9", "J96.0", "E87.1", "I10"], "documents": docs})


def test_an_unsupported_mcc_is_removed_and_the_claim_priced_at_the_remaining_cc(
    claim: ClaimData, severe: GroupingResult
) -> None:
    [found] = severity_findings(secondaries(claim, "E87.1"), severe)
    assert (found.reason.code, found.outcome, found.reason.field) == (
        "V-SEVERITY-UNSUPPORTED",
        Outcome.ADJUST,
        "diagnosa",
    )
    assert found.amount == 2_800_000  # 8,800,000 (III) - 6,000,000 (II, the table's figure)
    assert "J96.0 MCC; III -> II, 6000000" in found.reason.message_en


def test_both_cc_and_mcc_unsupported_regroups_to_severity_i(claim: ClaimData, severe: GroupingResult) -> None:
    [found] = severity_findings(secondaries(claim), severe)
    assert found.amount == 4_800_000  # 8,800,000 - 4,000,000 (I)
    assert "J96.0 MCC, E87.1 CC; III -> I" in found.reason.message_en


def test_an_unsupported_cc_beside_a_supported_mcc_changes_nothing(claim: ClaimData, severe: GroupingResult) -> None:
    assert severity_findings(secondaries(claim, "J96"), severe) == []


def test_an_unsupported_secondary_that_is_no_cc_changes_nothing(claim: ClaimData, severe: GroupingResult) -> None:
    # I10 is unsupported too, but it did not raise severity: the grouper did not list it
    assert severity_findings(secondaries(claim, "J96", "E87.1"), severe) == []


def test_a_severity_ii_claim_with_an_unsupported_cc_drops_to_i(claim: ClaimData, severe: GroupingResult) -> None:
    moderate = severe.model_copy(
        update={
            "severity": "II",
            "tarif_kelas": 6_000_000,
            "severity_basis": [SeverityBasis(code="E87.1", level="CC")],
        }
    )
    [found] = severity_findings(secondaries(claim, "J96.0"), moderate)
    assert found.amount == 2_000_000  # 6,000,000 - 4,000,000


def test_without_the_groupers_figures_nothing_is_corrected(claim: ClaimData, severe: GroupingResult) -> None:
    older_grouper = severe.model_copy(update={"tarif_by_severity": []})
    assert severity_findings(secondaries(claim), older_grouper) == []
    assert severity_findings(secondaries(claim), severe.model_copy(update={"severity_basis": []})) == []


def test_no_adjustment_when_the_lower_severity_costs_as_much(claim: ClaimData, severe: GroupingResult) -> None:
    flat = severe.model_copy(update={"tarif_by_severity": [TariffBySeverity(severity="I", tarif=8_800_000)]})
    assert severity_findings(secondaries(claim), flat) == []


# --------------------------------------------------------------------------- expiry


@pytest.mark.parametrize(
    ("discharged", "submitted", "expired"),
    [
        (date(2026, 3, 6), date(2026, 9, 6), False),  # exactly 6 months
        (date(2026, 3, 6), date(2026, 9, 7), True),
        (date(2025, 8, 31), date(2026, 2, 28), False),  # clamped to the month end
        (date(2025, 8, 31), date(2026, 3, 1), True),
    ],
)
def test_claim_expiry_after_discharge(
    claim: ClaimData, policy: VerificationPolicy, discharged: date, submitted: date, expired: bool
) -> None:
    late = claim.model_copy(update={"tgl_masuk": discharged, "tgl_pulang": discharged})
    found = expiry_findings(late, submitted, policy)
    assert [(f.reason.code, f.outcome) for f in found] == ([("V-CLAIM-EXPIRED", Outcome.REJECT)] if expired else [])


def test_expiry_window_is_a_setting(claim: ClaimData) -> None:
    submitted = claim.tgl_pulang + timedelta(days=40)
    assert expiry_findings(claim, submitted, VerificationPolicy(claim_expiry_months=1))
    assert not expiry_findings(claim, submitted, VerificationPolicy(claim_expiry_months=2))
