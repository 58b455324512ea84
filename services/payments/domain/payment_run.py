"""A payment run, planned as a pure function: oldest due first, until the funds run out."""

from __future__ import annotations

from collections.abc import Iterable
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


@dataclass(frozen=True, slots=True)
class PlannedPayment:
    payable: OpenPayable
    penalty: int
    total: int
    days_late: int


@dataclass(frozen=True, slots=True)
class RunPlan:
    payments: tuple[PlannedPayment, ...]
    remaining: int

    @property
    def paid_total(self) -> int:
        """Everything paid out, penalties included."""
        return sum(p.total for p in self.payments)


def payment_order(p: OpenPayable) -> tuple[date, date, int]:
    """Oldest due first; ties by verification date, then arrival."""
    return (p.due_on, p.verified_on, p.id)


def plan_run(payables: Iterable[OpenPayable], funds: int, paid_on: date, method: str) -> RunPlan:
    """Pay in `payment_order` while the funds cover amount + penalty.

    The run stops at the first payable it cannot cover in full rather than skipping to a
    smaller, younger one: strict oldest-first keeps the fund from paying new claims while
    older ones accrue penalty, and no claim is ever part-paid.
    """
    if funds < 0:
        raise ValueError(f"funds must be >= 0 rupiah, got {funds}")
    remaining = funds
    planned: list[PlannedPayment] = []
    for p in sorted(payables, key=payment_order):
        penalty = late_penalty(p.amount, p.due_on, paid_on, method)
        total = p.amount + penalty
        if total > remaining:
            break
        remaining -= total
        planned.append(PlannedPayment(p, penalty, total, days_late(p.due_on, paid_on)))
    return RunPlan(tuple(planned), remaining)
