"""The rules the console checks before signing: named like the services', next to the field."""

from __future__ import annotations

import pytest

from services.console.domain.rules import (
    approval_refusals,
    correction_refusals,
    parse_amount,
    review_refusals,
    ruling_refusals,
    run_refusals,
)


def rules(refusals: object) -> dict[str, str]:
    return {name: e.rule for name, e in refusals.errors.items()}  # type: ignore[attr-defined]


def test_rupiah_as_operators_type_it() -> None:
    assert parse_amount("38940000") == 38_940_000
    assert parse_amount("38.940.000") == 38_940_000
    assert parse_amount("Rp 38.940.000") == 38_940_000
    assert parse_amount("  ") is None
    with pytest.raises(ValueError):
        parse_amount("38,5")


def test_a_claim_no_longer_in_review_is_refused_with_the_verifiers_rule() -> None:
    refusals, _, _ = review_refusals("verified", {"outcome": "verify"})
    assert rules(refusals) == {"": "V-STATE-NOT-IN-REVIEW"}


def test_each_outcome_needs_what_it_needs() -> None:
    assert rules(review_refusals("in_review", {"outcome": "verify"})[0]) == {}
    assert rules(review_refusals("in_review", {"outcome": "adjust"})[0]) == {
        "amount": "C-AMOUNT-REQUIRED", "note": "C-REASON-REQUIRED"}  # fmt: skip
    assert rules(review_refusals("in_review", {"outcome": "pend", "note": "lab"})[0]) == {
        "missing": "C-MISSING-REQUIRED"}  # fmt: skip
    assert rules(review_refusals("in_review", {"outcome": "reject", "note": " "})[0]) == {"note": "C-REASON-REQUIRED"}
    assert rules(review_refusals("in_review", {"outcome": "adjust", "note": "x", "amount": "5,5"})[0]) == {
        "amount": "C-AMOUNT-FORMAT"}  # fmt: skip
    ok, amount, missing = review_refusals(
        "in_review", {"outcome": "pend", "note": "lab", "missing": "lab_result, resume_medis", "amount": ""}
    )
    assert (rules(ok), amount, missing) == ({}, None, ["lab_result", "resume_medis"])


def test_a_ruling_needs_an_open_dispute_a_reason_and_for_partial_an_amount() -> None:
    assert rules(ruling_refusals("rejected", {"outcome": "upheld", "note": "ok"})[0]) == {"": "V-DISPUTE-NOT-OPEN"}
    assert rules(ruling_refusals("disputed", {"outcome": "partial"})[0]) == {
        "amount": "C-AMOUNT-REQUIRED", "note": "C-REASON-REQUIRED"}  # fmt: skip
    refusals, amount = ruling_refusals("disputed", {"outcome": "partial", "note": "lab", "amount": "1.000.000"})
    assert (rules(refusals), amount) == ({}, 1_000_000)


def test_the_maker_cannot_approve_their_own_request() -> None:
    assert rules(approval_refusals("test.both", "test.both")) == {"": "FOUR-EYES"}
    assert rules(approval_refusals(None, "test.approver")) == {"": "C-NOT-HELD"}
    assert rules(approval_refusals("test.maker", "test.approver")) == {}


def test_a_run_needs_funds_and_a_correction_its_fields() -> None:
    assert rules(run_refusals({"funds": ""})[0]) == {"funds": "C-AMOUNT-REQUIRED"}
    assert run_refusals({"funds": "Rp 100.000.000"})[1] == 100_000_000
    refusals, _, _ = correction_refusals({"recover": "0", "seq": "x"})
    assert rules(refusals) == {"recover": "C-AMOUNT-REQUIRED", "claim_id": "C-REQUIRED", "reason": "C-REQUIRED",
                               "correction_id": "C-REQUIRED", "seq": "C-SEQ"}  # fmt: skip
