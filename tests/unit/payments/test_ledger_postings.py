"""What each payments fact books in the ledger: the accounts, the amounts, and that they balance."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.payments.domain.ledger import (
    Posting,
    assert_balanced,
    balances,
    capitation_postings,
    correction_postings,
    payable_postings,
    payment_postings,
)

RS = "0301R001"
LIABILITY = "liability:payable:0301R001"
RECEIVABLE = "asset:receivable:0301R001"
CASH = "asset:cash:bpjs"


def test_a_verified_claim_books_the_expense_against_what_bpjs_owes_the_hospital() -> None:
    assert payable_postings(RS, 4_500_000) == (Posting("payable", "expense:claims:fkrtl", LIABILITY, 4_500_000),)


def test_a_payment_on_time_settles_the_liability_in_cash() -> None:
    assert payment_postings(RS, 4_500_000, penalty=0) == (Posting("payment", LIABILITY, CASH, 4_500_000),)


def test_a_late_payment_pays_the_penalty_in_cash_as_its_own_expense() -> None:
    assert payment_postings(RS, 4_500_000, penalty=22_500) == (
        Posting("payment", LIABILITY, CASH, 4_500_000),
        Posting("penalty", "expense:late-penalty", CASH, 22_500),
    )


def test_a_recovery_netted_from_a_payment_settles_part_of_the_liability_from_the_receivable() -> None:
    assert payment_postings(RS, 4_500_000, penalty=22_500, recovered=1_000_000) == (
        Posting("payment", LIABILITY, CASH, 3_500_000),
        Posting("recovery", LIABILITY, RECEIVABLE, 1_000_000),
        Posting("penalty", "expense:late-penalty", CASH, 22_500),
    )


def test_a_payment_wholly_recovered_moves_no_cash_but_still_pays_its_penalty() -> None:
    assert payment_postings(RS, 1_000_000, penalty=5_000, recovered=1_000_000) == (
        Posting("recovery", LIABILITY, RECEIVABLE, 1_000_000),
        Posting("penalty", "expense:late-penalty", CASH, 5_000),
    )


def test_a_recovery_larger_than_the_amount_is_refused() -> None:
    with pytest.raises(ValueError, match="recovered must be between 0 and the amount 1000 rupiah, got 1001"):
        payment_postings(RS, 1_000, penalty=0, recovered=1_001)


def test_a_correction_books_what_the_hospital_owes_back_and_reduces_the_claims_expense() -> None:
    assert correction_postings(RS, 750_000) == (Posting("adjustment", RECEIVABLE, "expense:claims:fkrtl", 750_000),)


def test_a_correction_of_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="recover_amount must be > 0 rupiah, got 0"):
        correction_postings(RS, 0)


def test_a_capitation_payment_is_paid_from_cash() -> None:
    assert capitation_postings(12_000_000) == (Posting("capitation", "expense:capitation:fktp", CASH, 12_000_000),)


def test_a_claim_verified_paid_late_with_netting_then_corrected_leaves_these_balances() -> None:
    postings = (
        *payable_postings(RS, 4_500_000),
        *correction_postings(RS, 1_000_000),  # an earlier claim of the same hospital, found overpaid
        *payment_postings(RS, 4_500_000, penalty=22_500, recovered=1_000_000),
    )

    assert balances(postings) == {
        "expense:claims:fkrtl": 3_500_000,
        "expense:late-penalty": 22_500,
        LIABILITY: 0,
        RECEIVABLE: 0,
        CASH: -3_522_500,
    }
    assert_balanced(postings)


def test_a_posting_between_one_account_and_itself_is_refused() -> None:
    with pytest.raises(ValueError, match="posting must move money between two accounts, got asset:cash:bpjs twice"):
        Posting("payment", CASH, CASH, 1)


@given(
    amount=st.integers(min_value=0, max_value=10**12),
    penalty=st.integers(min_value=0, max_value=10**10),
    recovered_share=st.fractions(min_value=0, max_value=1),
)
def test_every_payment_balances_and_settles_exactly_the_liability(
    amount: int, penalty: int, recovered_share: Fraction
) -> None:
    recovered = int(amount * recovered_share)
    postings = payment_postings(RS, amount, penalty, recovered)
    moved = balances(postings)

    assert sum(moved.values()) == 0
    assert moved.get(LIABILITY, 0) == amount
    assert -moved.get(CASH, 0) == amount - recovered + penalty
    assert -moved.get(RECEIVABLE, 0) == recovered
