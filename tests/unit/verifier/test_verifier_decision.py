"""The rule table, the precedence of outcomes, and the rules run together on one claim."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from services.verifier.domain import (
    RULE_BY_CODE,
    RULES,
    TRANSITION_RULES,
    VERIFICATION_RULES,
    ClaimCheck,
    Episode,
    Finding,
    Outcome,
    Participant,
    VerificationPolicy,
    decide,
    run_checks,
    verify,
)
from services.verifier.domain.rulebook import finding, reason
from shared.events import ClaimData, GroupingResult, ProcedureEntry, SeverityBasis, TariffBySeverity

CODE_FOR = {
    Outcome.REJECT: "V-DUP-SEP",
    Outcome.PEND: "V-DOC-RESUME",
    Outcome.REVIEW: "V-LOS-RANGE",
    Outcome.ADJUST: "V-SEVERITY-UNSUPPORTED",
}


def found(outcome: Outcome, amount: int = 0) -> Finding:
    return finding(CODE_FOR[outcome], amount=amount)


# --------------------------------------------------------------------------- the table


def test_codes_are_unique_and_texts_bilingual() -> None:
    assert len(RULE_BY_CODE) == len(RULES)
    for rule in RULES:
        assert rule.code.startswith("V-") and rule.text_id and rule.text_en and rule.source
        assert rule.text_id != rule.text_en


def test_verification_rules_force_an_outcome_and_transition_rules_none() -> None:
    assert all(rule.outcome in set(Outcome) - {Outcome.VERIFY} for rule in VERIFICATION_RULES)
    assert all(rule.outcome is None for rule in TRANSITION_RULES)


def test_reason_carries_the_table_texts_and_the_detail() -> None:
    why = reason("V-DOC-CONSENT", field="procedure", detail="47.09")
    assert why.code == "V-DOC-CONSENT" and why.field == "procedure"
    assert why.message_id == "Informed consent tidak ada untuk tindakan invasif (47.09)"
    assert why.message_en == "Informed consent missing for an invasive procedure (47.09)"


def test_transition_codes_are_not_findings() -> None:
    with pytest.raises(ValueError, match="refuses transitions"):
        finding("V-DISPUTE-LATE")


def test_unknown_code_cannot_be_emitted() -> None:
    with pytest.raises(KeyError):
        reason("V-NOT-IN-TABLE")


# --------------------------------------------------------------------------- decide


def test_no_findings_verify_in_full() -> None:
    decision = decide([], 4_000_000)
    assert (decision.outcome, decision.reasons, decision.adjustments, decision.approved_amount) == (
        Outcome.VERIFY,
        (),
        (),
        4_000_000,
    )


@pytest.mark.parametrize(
    ("outcomes", "winner"),
    [
        ([Outcome.PEND, Outcome.REJECT], Outcome.REJECT),
        ([Outcome.REVIEW, Outcome.PEND], Outcome.PEND),
        ([Outcome.ADJUST, Outcome.REVIEW], Outcome.REVIEW),
        ([Outcome.ADJUST], Outcome.ADJUST),
        ([Outcome.ADJUST, Outcome.REVIEW, Outcome.PEND, Outcome.REJECT], Outcome.REJECT),
    ],
)
def test_precedence_reject_pend_review_adjust(outcomes: list[Outcome], winner: Outcome) -> None:
    decision = decide([found(o, amount=100) for o in outcomes], 4_000_000)
    assert decision.outcome == winner
    assert [r.code for r in decision.reasons] == [CODE_FOR[winner]]
    assert len(decision.findings) == len(outcomes)  # outweighed findings kept for the audit trail


def test_pend_and_reject_approve_nothing_and_drop_corrections() -> None:
    for outcome in (Outcome.PEND, Outcome.REJECT):
        decision = decide([found(outcome), found(Outcome.ADJUST, 500)], 4_000_000)
        assert (decision.approved_amount, decision.adjustments) == (0, ())


def test_adjust_approves_the_grouped_total_less_adjustments() -> None:
    decision = decide([found(Outcome.ADJUST, 1_200_000), found(Outcome.ADJUST, 300_000)], 4_000_000)
    assert decision.approved_amount == 2_500_000
    assert [a.amount for a in decision.adjustments] == [1_200_000, 300_000]


def test_review_proposes_the_adjusted_amount() -> None:
    decision = decide([found(Outcome.REVIEW), found(Outcome.ADJUST, 1_200_000)], 4_000_000)
    assert decision.approved_amount == 2_800_000 and len(decision.adjustments) == 1


def test_approved_amount_never_negative() -> None:
    assert decide([found(Outcome.ADJUST, 5_000_000)], 4_000_000).approved_amount == 0


# --------------------------------------------------------------------------- all rules together


@pytest.fixture
def check(claim: ClaimData, grouping: GroupingResult, member: Participant) -> ClaimCheck:
    return ClaimCheck("C-1", claim, grouping, claim.tgl_pulang + timedelta(days=3), [member])


def test_clean_claim_is_verified_in_full(check: ClaimCheck, policy: VerificationPolicy) -> None:
    assert run_checks(check, policy) == ()
    decision = verify(check, policy)
    assert (decision.outcome, decision.approved_amount) == (Outcome.VERIFY, 4_000_000)


def test_every_rule_is_consulted(check: ClaimCheck, policy: VerificationPolicy) -> None:
    claim = check.claim.model_copy(
        update={
            "nomor_sep": "0302R0020326V000001",
            "kelas_rawat": 2,
            "jenis_rawat": 1,
            "diagnosa": ["J18.9", "E11.9", "J96.0"],
            "procedure": [ProcedureEntry(code="33.24")],
            "documents": [],
            "tgl_pulang": check.claim.tgl_masuk + timedelta(days=15),
        }
    )
    severe = check.grouping.model_copy(
        update={
            "severity": "III",
            "severity_basis": [SeverityBasis(code="J96.0", level="MCC")],
            "tarif_by_severity": [TariffBySeverity(severity="I", tarif=3_000_000)],
        }
    )
    messy = ClaimCheck(
        "C-1",
        claim,
        severe,
        date(2027, 1, 1),
        [],
        [Episode("C-0", 1, claim.tgl_masuk - timedelta(days=3), "J")],
        {"C-9"},
    )
    codes = [f.reason.code for f in run_checks(messy, policy)]
    assert codes == [
        "V-ELIG-UNKNOWN",
        "V-ELIG-SEP-HOSPITAL",
        "V-DOC-RESUME",
        "V-DOC-CONSENT",
        "V-DOC-SUPPORT",
        "V-DOC-SUPPORT",
        "V-DUP-SEP",
        "V-READMIT",
        "V-LOS-RANGE",
        "V-SEVERITY-UNSUPPORTED",
        "V-CLAIM-EXPIRED",
    ]
    decision = verify(messy, policy)
    assert decision.outcome == Outcome.REJECT
    assert [r.code for r in decision.reasons] == [
        "V-ELIG-UNKNOWN",
        "V-ELIG-SEP-HOSPITAL",
        "V-DUP-SEP",
        "V-CLAIM-EXPIRED",
    ]


def test_outpatient_referral_is_consulted(check: ClaimCheck, policy: VerificationPolicy) -> None:
    visit = check.claim.model_copy(update={"jenis_rawat": 2, "tgl_pulang": check.claim.tgl_masuk})
    outpatient = ClaimCheck("C-1", visit, check.grouping, check.first_submitted_on, check.participant_history)
    assert [f.reason.code for f in run_checks(outpatient, policy)] == ["V-DOC-REFERRAL"]
