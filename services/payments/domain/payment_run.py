"""A payment run, planned as a pure function: oldest due first, until the funds run out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from services.payments.domain.penalty import days_late, late_penalty


@dataclass(frozen=True, slots=True)
class OpenPayable:
    id: int
    claim_id: str
    verification_seq: int
    amount: int
    verified_on: date
    due_on: date
    kode_rs: str = ""


@dataclass(frozen=True, slots=True)
class PlannedPayment:
    payable: OpenPayable
    penalty: int
    total: int  # amount + penalty: what the payment settles
    days_late: int
    recovered: int = 0  # netted against what the hospital owes back (VEDIKA), deducted from the amount

    @property
    def net(self) -> int:
        """The cash that leaves the fund: the total less the recovery."""
        return self.total - self.recovered


@dataclass(frozen=True, slots=True)
class RunPlan:
    payments: tuple[PlannedPayment, ...]
    remaining: int

    @property
    def paid_total(self) -> int:
        """The cash paid out, penalties included, recoveries deducted."""
        return sum(p.net for p in self.payments)

    @property
    def recovered_total(self) -> int:
        """What the run recovered from hospitals by netting."""
        return sum(p.recovered for p in self.payments)


def payment_order(p: OpenPayable) -> tuple[date, date, int]:
    """Oldest due first; ties by verification date, then arrival."""
    return (p.due_on, p.verified_on, p.id)


def plan_run(
    payables: Iterable[OpenPayable],
    funds: int,
    paid_on: date,
    method: str,
    receivables: Mapping[str, int] | None = None,
) -> RunPlan:
    """Pay in `payment_order` while the funds cover amount + penalty, less what the hospital owes back.

    The run stops at the first payable it cannot cover in full rather than skipping to a
    smaller, younger one: strict oldest-first keeps the fund from paying new claims while
    older ones accrue penalty, and no claim is ever part-paid.

    `receivables` (kode_rs -> rupiah owed back after VEDIKA corrections) are netted against the
    hospital's payables in the same order, each recovery at most the payable's amount: the penalty
    on BPJS's own delay is always paid in cash.
    """
    if funds < 0:
        raise ValueError(f"funds must be >= 0 rupiah, got {funds}")
    owed_back = {k: v for k, v in (receivables or {}).items() if v > 0}
    remaining = funds
    planned: list[PlannedPayment] = []
    for p in sorted(payables, key=payment_order):
        penalty = late_penalty(p.amount, p.due_on, paid_on, method)
        recovered = min(owed_back.get(p.kode_rs, 0), p.amount)
        total = p.amount + penalty
        if total - recovered > remaining:
            break
        remaining -= total - recovered
        if recovered:
            owed_back[p.kode_rs] -= recovered
        planned.append(PlannedPayment(p, penalty, total, days_late(p.due_on, paid_on), recovered))
    return RunPlan(tuple(planned), remaining)
