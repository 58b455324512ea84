"""Checks a simulated month: each claim's outcome, every amount and penalty, no double payment."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from services.grouper.domain.engine import Grouped, group_claim
from services.grouper.domain.tables import GrouperTables
from services.payments.domain.due_dates import payable_due_on, payment_due_on
from services.payments.domain.penalty import late_penalty
from services.simulator.scenario import Kind, Plan, PlannedClaim
from shared.calendar import WorkingCalendar
from shared.events import (
    ClaimGrouped,
    ClaimPaid,
    ClaimRejected,
    ClaimVerified,
    Envelope,
)
from shared.settings import PolicySettings


@dataclass
class Report:
    outcomes: Counter[str] = field(default_factory=Counter)
    paid_on_time: int = 0
    paid_late: int = 0
    paid_total: int = 0
    penalties: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def compliance(self) -> float:
        """Share of payments made by their due date."""
        paid = self.paid_on_time + self.paid_late
        return self.paid_on_time / paid if paid else 1.0


def check(
    plan: Plan,
    events: dict[str, list[Envelope]],
    states: dict[str, str],
    tables: GrouperTables,
    calendar: WorkingCalendar,
    policy: PolicySettings,
    dispute_due_from_original: bool = True,
) -> Report:
    """Everything the month must have produced, claim by claim; every problem is named."""
    report = Report()
    paid_keys: Counter[tuple[str, int]] = Counter()
    for c in plan.claims:
        seen = events.get(c.claim_id, [])
        state = _final_state(seen, states.get(c.claim_id))
        report.outcomes[state] += 1
        if state != c.final_state:
            report.problems.append(f"{c.claim_id} ({c.kind}): ended {state}, expected {c.final_state}")
        _check_amounts(c, seen, tables, calendar, policy, dispute_due_from_original, report)
        for p in (e for e in seen if isinstance(e, ClaimPaid)):
            paid_keys[(c.claim_id, p.payload.verification_seq)] += 1
    report.problems += [f"{k[0]} seq {k[1]} paid {n} times" for k, n in paid_keys.items() if n > 1]
    return report


def _due_after(verified: ClaimVerified, calendar: WorkingCalendar, policy: PolicySettings) -> date:
    return payment_due_on(verified.payload.verified_on, calendar, policy.payment_days, policy.payment_day_unit)


def _final_state(seen: list[Envelope], verifier_state: str | None) -> str:
    if verifier_state is None and any(isinstance(e, ClaimRejected) and e.payload.stage == "grouper" for e in seen):
        return "grouper_rejected"
    return verifier_state or "lost"


def _check_amounts(
    c: PlannedClaim,
    seen: list[Envelope],
    tables: GrouperTables,
    calendar: WorkingCalendar,
    policy: PolicySettings,
    from_original: bool,
    report: Report,
) -> None:
    verified = {e.payload.verification_seq: e for e in seen if isinstance(e, ClaimVerified)}
    paid = [e for e in seen if isinstance(e, ClaimPaid)]
    if len(paid) != c.payments:
        report.problems.append(f"{c.claim_id} ({c.kind}): {len(paid)} payments, expected {c.payments}")
    grouped = [e for e in seen if isinstance(e, ClaimGrouped)]
    if c.kind == Kind.CLEAN and grouped and 0 in verified:
        expected = group_claim(c.claim, tables)
        assert isinstance(expected, Grouped)
        if verified[0].payload.approved_amount != expected.result.total_tarif:
            report.problems.append(f"{c.claim_id}: approved {verified[0].payload.approved_amount}, "
                                   f"grouper says {expected.result.total_tarif}")  # fmt: skip
    for p in paid:
        v = verified.get(p.payload.verification_seq)
        if v is None:
            report.problems.append(f"{c.claim_id}: paid seq {p.payload.verification_seq} never verified")
            continue
        # The payments domain's own rule, not a copy: an upheld dispute's supplementary amount is due on
        # the main verification's date (DOMAIN.md), the period counted in the configured unit.
        main = verified.get(0)
        original = _due_after(main, calendar, policy) if main is not None else None
        due = payable_due_on(p.payload.verification_seq, _due_after(v, calendar, policy), original, from_original)
        penalty = late_penalty(v.payload.approved_amount, due, p.payload.paid_on, policy.penalty_method)
        if (p.payload.approved_amount, p.payload.due_on, p.payload.penalty) != (
            v.payload.approved_amount,
            due,
            penalty,
        ):
            report.problems.append(
                f"{c.claim_id}: paid {p.payload.approved_amount} due {p.payload.due_on} penalty {p.payload.penalty}; "
                f"expected {v.payload.approved_amount} due {due} penalty {penalty}"
            )
        report.paid_total += p.payload.total_paid
        report.penalties += p.payload.penalty
        if p.payload.days_late:
            report.paid_late += 1
        else:
            report.paid_on_time += 1
