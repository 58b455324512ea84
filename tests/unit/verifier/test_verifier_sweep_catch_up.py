"""The daily sweep never judges a day whose input may still be in the backlog.

A fake broker reports offsets; the sweep itself is the pure domain sweep applied to one claim. The
claim of conftest is pended Monday 2 March 2026 with resubmit_by Wednesday 11 March, so the sweep of
Thursday 12 March expires it, unless the resubmission received on the 11th is still being consumed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from services.verifier.domain import (
    Calendar,
    ClaimState,
    ClaimStatus,
    ReviewVerdict,
    Sweep,
    Transition,
    VerificationPolicy,
    apply,
)
from services.verifier.domain.timing import Lag, Partition, backlog, sweep_gate
from services.verifier.entrypoints.sweeper import sweep_when_caught_up, wait_until_caught_up
from shared.clock import FixedClock

JAKARTA = ZoneInfo("Asia/Jakarta")
Reach = Callable[[ClaimState], ClaimStatus]
STAGES = {"grouper": ["claims.submitted"], "verifier": ["claims.grouped", "verifier.commands"]}
# Without the wait, the sweep of Thursday 12 March would deem complete a claim held for review since
# Monday 2 March and expire one pended that Monday (resubmit_by Wednesday 11 March).
THURSDAY = date(2026, 3, 12)


class FakeBroker:
    """End offsets and committed offsets that a test moves by hand."""

    def __init__(self) -> None:
        self.end: dict[Partition, int] = {
            ("claims.submitted", 0): 10, ("claims.submitted", 1): 4,
            ("claims.grouped", 0): 7, ("verifier.commands", 0): 0,
        }  # fmt: skip
        self.groups: dict[str, dict[Partition, int]] = {"grouper": {}, "verifier": {}}
        self.snapshots: list[tuple[str, ...]] = []

    async def end_offsets(self, topics: Sequence[str]) -> dict[Partition, int]:
        self.snapshots.append(tuple(topics))
        return {p: n for p, n in self.end.items() if p[0] in topics}

    async def committed(self, group: str, partitions: Sequence[Partition]) -> dict[Partition, int]:
        return {p: self.groups[group].get(p, -1) for p in partitions}


class Claim:
    """One pended claim and the sweeps applied to it."""

    def __init__(self, status: ClaimStatus, cal: Calendar, policy: VerificationPolicy) -> None:
        self.status, self.cal, self.policy = status, cal, policy
        self.swept: list[date] = []

    async def sweep(self, on: date) -> int:
        self.swept.append(on)
        result = apply(self.status, Sweep(on), self.cal, self.policy)
        assert isinstance(result, Transition)
        moved = int(result.status != self.status)
        self.status = result.status
        return moved


@pytest.fixture
def pended(reach: Reach, cal: Calendar, policy: VerificationPolicy) -> Claim:
    status = reach(ClaimState.PENDED)
    assert status.resubmit_by == date(2026, 3, 11)
    return Claim(status, cal, policy)


def friday_morning() -> FixedClock:
    return FixedClock(datetime(2026, 3, 13, 0, 5, tzinfo=JAKARTA))  # the sweep of Thursday runs now


async def test_the_sweep_does_not_expire_while_a_group_reports_lag_and_does_once_it_is_zero(pended: Claim) -> None:
    broker = FakeBroker()
    broker.groups["grouper"] = {("claims.submitted", 0): 10, ("claims.submitted", 1): 4}
    broker.groups["verifier"] = {("claims.grouped", 0): 5}  # two grouped records not yet applied
    checks: list[float] = []

    async def sleep(seconds: float) -> None:
        checks.append(seconds)
        assert pended.swept == []  # nothing judged while input is in flight
        assert pended.status.state == ClaimState.PENDED
        if len(checks) == 3:
            broker.groups["verifier"][("claims.grouped", 0)] = 7  # the verifier caught up

    moved = await sweep_when_caught_up(
        THURSDAY, friday_morning(), JAKARTA, broker, STAGES, pended.sweep, retry_s=30.0, sleep=sleep
    )
    assert checks == [30.0, 30.0, 30.0]
    assert pended.swept == [THURSDAY]
    assert moved == 1
    assert pended.status.state == ClaimState.PEND_EXPIRED


async def test_a_held_claim_is_not_deemed_complete_while_the_reviewers_decision_is_in_the_backlog(
    reach: Reach, cal: Calendar, policy: VerificationPolicy
) -> None:
    held = Claim(reach(ClaimState.IN_REVIEW), cal, policy)  # submitted Mon 2 March: window ends Thu 12 March
    unguarded = apply(held.status, Sweep(THURSDAY), cal, policy)
    assert isinstance(unguarded, Transition) and unguarded.status.state == ClaimState.VERIFIED  # deemed complete
    broker = FakeBroker()
    broker.end[("verifier.commands", 0)] = 3
    broker.groups["grouper"] = dict(broker.end)
    broker.groups["verifier"] = {**broker.end, ("verifier.commands", 0): 2}  # the reviewer's pend not applied

    async def sleep(_: float) -> None:
        assert held.swept == []
        # The verifier applies the decision the reviewer made at 23:50 on Thursday, then commits.
        decided = apply(held.status, ReviewVerdict("pend", "dr. A", THURSDAY, missing=("resume_medis",)), cal, policy)
        assert isinstance(decided, Transition)
        held.status = decided.status
        broker.groups["verifier"][("verifier.commands", 0)] = 3

    clock = friday_morning()
    await sweep_when_caught_up(THURSDAY, clock, JAKARTA, broker, STAGES, held.sweep, retry_s=1.0, sleep=sleep)
    assert held.swept == [THURSDAY]
    assert held.status.state == ClaimState.PENDED  # the reviewer's decision stands; nothing was deemed complete


async def test_the_verifiers_input_is_snapshotted_only_after_the_grouper_caught_up(pended: Claim) -> None:
    broker = FakeBroker()
    broker.groups["grouper"] = {("claims.submitted", 0): 9, ("claims.submitted", 1): 4}  # one resubmission left
    broker.groups["verifier"] = {("claims.grouped", 0): 7}

    async def sleep(_: float) -> None:
        if broker.groups["grouper"][("claims.submitted", 0)] == 9:
            assert broker.snapshots == [("claims.submitted",)]  # the verifier's topics not looked at yet
            broker.groups["grouper"][("claims.submitted", 0)] = 10
            broker.end[("claims.grouped", 0)] = 8  # what the grouper forwarded is now on claims.grouped
        await asyncio.sleep(0)

    gate = asyncio.create_task(
        wait_until_caught_up(THURSDAY, friday_morning(), JAKARTA, broker, STAGES, retry_s=1.0, sleep=sleep)
    )
    for _ in range(20):
        await asyncio.sleep(0)
    assert not gate.done()  # the verifier has not applied the forwarded resubmission
    broker.groups["verifier"][("claims.grouped", 0)] = 8
    assert (await gate).open
    assert broker.snapshots == [("claims.submitted",), ("claims.grouped", "verifier.commands")]


async def test_the_sweep_of_a_day_waits_for_the_days_end() -> None:
    clock = FixedClock(datetime(2026, 3, 12, 23, 0, tzinfo=JAKARTA))
    broker = FakeBroker()
    broker.groups["grouper"] = dict(broker.end)
    broker.groups["verifier"] = dict(broker.end)
    task = asyncio.create_task(wait_until_caught_up(THURSDAY, clock, JAKARTA, broker, STAGES, retry_s=1.0))
    for _ in range(20):
        await asyncio.sleep(0)
    assert not task.done() and broker.snapshots == []  # an end offset taken before midnight proves nothing
    clock.set(datetime(2026, 3, 13, 0, 0, tzinfo=JAKARTA))
    assert (await asyncio.wait_for(task, 5)).open


async def test_a_broker_that_cannot_answer_puts_the_sweep_off(pended: Claim) -> None:
    broker = FakeBroker()
    broker.groups["grouper"] = dict(broker.end)
    broker.groups["verifier"] = dict(broker.end)
    failures = [ConnectionError("broker down")]
    real_end_offsets = broker.end_offsets

    async def flaky(topics: Sequence[str]) -> dict[Partition, int]:
        if failures:
            raise failures.pop()
        return await real_end_offsets(topics)

    broker.end_offsets = flaky  # type: ignore[method-assign]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        assert pended.swept == []

    await sweep_when_caught_up(
        THURSDAY, friday_morning(), JAKARTA, broker, STAGES, pended.sweep, retry_s=5.0, sleep=sleep
    )
    assert waits == [5.0]
    assert pended.status.state == ClaimState.PEND_EXPIRED


def test_a_partition_never_committed_on_is_behind_unless_it_is_empty() -> None:
    end = {("claims.grouped", 0): 3, ("claims.grouped", 1): 0, ("claims.grouped", 2): 5}
    committed = {("claims.grouped", 0): -1, ("claims.grouped", 1): -1, ("claims.grouped", 2): 5}
    assert backlog("verifier", end, committed) == (Lag("verifier", "claims.grouped", 0, -1, 3),)
    assert backlog("verifier", end, committed)[0].records == 3


def test_the_gate_opens_only_after_the_cut_off_and_with_no_lag() -> None:
    before = datetime(2026, 3, 12, 23, 59, tzinfo=JAKARTA)
    after = datetime(2026, 3, 13, 0, 0, tzinfo=JAKARTA)
    lag = (Lag("grouper", "claims.submitted", 0, 9, 10),)
    assert sweep_gate(THURSDAY, before, JAKARTA, ()).why == "day-not-over"
    assert sweep_gate(THURSDAY, after, JAKARTA, lag).why == "input-in-flight"
    assert sweep_gate(THURSDAY, after, JAKARTA, ()).open
