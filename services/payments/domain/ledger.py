"""The chart of accounts and the double entries each payments fact books, as pure functions.

Every posting debits one account and credits another by the same amount, so a set of postings always
balances; what each function also asserts is that it settles exactly what the fact says (a payment
clears the whole liability for the claim and pays the penalty in cash, a recovery comes out of the
receivable, never out of the penalty).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

CASH: Final = "asset:cash:bpjs"
CLAIMS_EXPENSE: Final = "expense:claims:fkrtl"
PENALTY_EXPENSE: Final = "expense:late-penalty"
CAPITATION_EXPENSE: Final = "expense:capitation:fktp"
RECEIVABLE_PREFIX: Final = "asset:receivable:"
LIABILITY_PREFIX: Final = "liability:payable:"

EntryKind = Literal["payable", "payment", "recovery", "penalty", "adjustment", "capitation"]


def hospital_receivable(kode_rs: str) -> str:
    """The account of what a hospital owes back after a post-payment correction."""
    return f"{RECEIVABLE_PREFIX}{kode_rs}"


def hospital_liability(kode_rs: str) -> str:
    """The account of what BPJS owes one hospital."""
    return f"{LIABILITY_PREFIX}{kode_rs}"


@dataclass(frozen=True, slots=True)
class Posting:
    """One double entry: `amount` rupiah debited to `debit` and credited to `credit`."""

    kind: EntryKind
    debit: str
    credit: str
    amount: int

    def __post_init__(self) -> None:
        if self.amount < 0:
            raise ValueError(f"posting amount must be >= 0 rupiah, got {self.amount}")
        if self.debit == self.credit:
            raise ValueError(f"posting must move money between two accounts, got {self.debit} twice")


def balances(postings: Iterable[Posting]) -> dict[str, int]:
    """Debits minus credits per account (the same sign as the repository's `account_balances`)."""
    out: dict[str, int] = defaultdict(int)
    for p in postings:
        out[p.debit] += p.amount
        out[p.credit] -= p.amount
    return dict(out)


def assert_balanced(postings: Iterable[Posting]) -> None:
    """Debits equal credits: the balances of all accounts sum to zero."""
    total = sum(balances(postings).values())
    assert total == 0, f"postings do not balance: debits - credits = {total}"


def payable_postings(kode_rs: str, amount: int) -> tuple[Posting, ...]:
    """A verified claim: the expense is incurred and BPJS owes the hospital the approved amount."""
    postings = (Posting("payable", CLAIMS_EXPENSE, hospital_liability(kode_rs), amount),)
    assert_balanced(postings)
    return postings


def payment_postings(kode_rs: str, amount: int, penalty: int, recovered: int = 0) -> tuple[Posting, ...]:
    """Paying a payable of `amount` with its late `penalty`, `recovered` of it netted from the receivable.

    The liability is settled by cash and by the recovery (its own entry, so the reconciliation can show
    both); the penalty on BPJS's own delay is always paid in cash. A payment wholly netted books no
    zero cash entry; a payment of nothing recovered still books its (possibly zero) cash entry.
    """
    if not 0 <= recovered <= amount:
        raise ValueError(f"recovered must be between 0 and the amount {amount} rupiah, got {recovered}")
    if penalty < 0:
        raise ValueError(f"penalty must be >= 0 rupiah, got {penalty}")
    liability = hospital_liability(kode_rs)
    postings: list[Posting] = []
    cash_part = amount - recovered
    if cash_part or not recovered:
        postings.append(Posting("payment", liability, CASH, cash_part))
    if recovered:
        postings.append(Posting("recovery", liability, hospital_receivable(kode_rs), recovered))
    if penalty:
        postings.append(Posting("penalty", PENALTY_EXPENSE, CASH, penalty))
    moved = balances(postings)
    assert_balanced(postings)
    assert moved.get(liability, 0) == amount, f"payment settles {moved.get(liability, 0)} of {amount}"
    assert -moved.get(CASH, 0) == cash_part + penalty, f"cash out {-moved.get(CASH, 0)} != {cash_part + penalty}"
    return tuple(postings)


def correction_postings(kode_rs: str, recover_amount: int) -> tuple[Posting, ...]:
    """A VEDIKA finding on a paid claim: the hospital owes `recover_amount` back; the claims expense shrinks."""
    if recover_amount <= 0:
        raise ValueError(f"recover_amount must be > 0 rupiah, got {recover_amount}")
    postings = (Posting("adjustment", hospital_receivable(kode_rs), CLAIMS_EXPENSE, recover_amount),)
    assert_balanced(postings)
    return postings


def capitation_postings(amount: int) -> tuple[Posting, ...]:
    """A monthly capitation payment to one FKTP: paid in cash, no liability carried."""
    postings = (Posting("capitation", CAPITATION_EXPENSE, CASH, amount),)
    assert_balanced(postings)
    return postings
