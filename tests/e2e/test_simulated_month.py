"""End to end: a simulated month through all services on the real broker and database."""

from __future__ import annotations

from collections import Counter

import pytest

from deploy.local import Stack
from services.simulator.harness import simulate
from services.simulator.scenario import Kind, plan_month
from shared.services import SERVICES
from shared.topics import dlq_topic
from tests.support.services import new_lane

pytestmark = pytest.mark.e2e


async def test_a_month_of_claims_reaches_every_expected_outcome_with_exact_money(stack: Stack) -> None:
    plan = plan_month(hospitals=4, claims=240, days=12, seed=7)
    assert {c.kind for c in plan.claims} >= set(Kind) - {Kind.DUPLICATE_SEP}  # every path is exercised
    lane = await new_lane(stack)
    outcome = await simulate(plan, lane.settings(max_batch=200), lane.isolate)
    report = outcome.report
    assert report.problems == []
    assert sum(report.outcomes.values()) == len(plan.claims)
    assert report.paid_late > 0, "short funds must have made some payments late"
    assert report.paid_on_time > 0
    assert report.penalties > 0
    # Every DLQ is empty except for the junk sent on purpose, which all landed there, once per group reading
    # its topic (the grouper and, where this checkout has it, the console's analytics read model).
    groups = Counter(t for spec in SERVICES() for c in spec.consumes for t in c.accepted)
    assert outcome.dead_letters == {dlq_topic(t): n * groups[t] for t, n in outcome.junk_sent.items()}
