"""The verifier on the real stack with a fixed clock: every lifecycle the hospitals and reviewers see."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from deploy.local import Stack
from services.grouper.service import SPEC as GROUPER
from services.verifier.adapters.progress import BrokerProgress
from services.verifier.entrypoints.sweeper import sweep_day, sweep_when_caught_up
from services.verifier.service import SPEC
from shared import db
from shared.clock import FixedClock, set_clock
from shared.events import (
    ClaimDisputed,
    ClaimGrouped,
    ClaimPended,
    ClaimRejected,
    ClaimSubmitted,
    ClaimVerified,
    DisputeResolutionRequested,
    Envelope,
    GroupingResult,
    ParticipantChanged,
    ReviewDecisionRequested,
    parse_event_obj,
)
from shared.runtime import ServiceRuntime
from tests.support.factories import example
from tests.support.kafka import eventually
from tests.support.operators import sign
from tests.support.services import Lane, new_lane, running, tally_work

pytestmark = pytest.mark.integration

MONDAY = date(2026, 11, 9)
CONSENT = {"doc_type": "informed_consent", "ref": "IC/1", "supports": []}


MONDAY_MORNING = datetime(2026, 11, 9, 2, 0, tzinfo=UTC)  # Monday 09:00 in Jakarta

# Most tests here share one verifier (`lane`, `verifier`, `clock`): starting one costs seconds, and their claims
# never meet (World's ids are unique in the module). A test that stops the verifier, starts instances of its
# own, or moves the clock weeks ahead (the daily sweeper follows the clock) has its own (`own_lane`, ...).


@pytest.fixture(scope="module")
async def lane(stack: Stack) -> Lane:
    """The module's lane: the shared verifier's topics and schema."""
    return await new_lane(stack)


@pytest.fixture(scope="module")
def verifier_clock() -> FixedClock:
    return FixedClock(MONDAY_MORNING)


@pytest.fixture(scope="module")
async def shared_verifier(lane: Lane, verifier_clock: FixedClock) -> AsyncIterator[tuple[ServiceRuntime, asyncpg.Pool]]:
    set_clock(verifier_clock)  # the runtime takes the clock when it starts
    spec = lane.isolate(SPEC)
    try:
        async with running(spec, lane.settings()) as runtime:
            pool = await db.create_pool(lane.stack.database_url, spec.schema)
            try:
                yield runtime, pool
            finally:
                await pool.close()
    finally:
        set_clock(None)


@pytest.fixture
def clock(verifier_clock: FixedClock) -> Iterator[FixedClock]:
    """The shared verifier's clock, set back to Monday 09:00 for each test."""
    verifier_clock.set(MONDAY_MORNING)
    set_clock(verifier_clock)
    yield verifier_clock
    set_clock(None)


@pytest.fixture
def verifier(
    shared_verifier: tuple[ServiceRuntime, asyncpg.Pool], clock: FixedClock
) -> tuple[ServiceRuntime, asyncpg.Pool]:
    return shared_verifier


@pytest.fixture
async def own_lane(stack: Stack) -> Lane:
    """A lane of the test's own, for a verifier or instances nobody else's claims reach."""
    return await new_lane(stack)


@pytest.fixture
def own_clock() -> Iterator[FixedClock]:
    fixed = FixedClock(MONDAY_MORNING)
    set_clock(fixed)
    yield fixed
    set_clock(None)


@pytest.fixture
async def own_verifier(own_lane: Lane, own_clock: FixedClock) -> AsyncIterator[tuple[ServiceRuntime, asyncpg.Pool]]:
    spec = own_lane.isolate(SPEC)
    async with running(spec, own_lane.settings()) as runtime:
        pool = await db.create_pool(own_lane.stack.database_url, spec.schema)
        try:
            yield runtime, pool
        finally:
            await pool.close()


def member(card: str, **changes: Any) -> ParticipantChanged:
    doc = example("ParticipantChanged")
    doc["event_id"] = str(uuid.uuid4())
    doc["payload"].update({"nomor_kartu": card, **changes})
    event = parse_event_obj(doc)
    assert isinstance(event, ParticipantChanged)
    return event


def grouped(
    claim_id: str, card: str, sep: str, *, revision: int = 0, submitted_on: date = MONDAY, **changes: Any
) -> ClaimGrouped:
    """A grouped appendectomy (K-1, severity I) like the worked example, with changes to claim or grouping."""
    doc = example("ClaimGrouped")
    doc.update(event_id=str(uuid.uuid4()), claim_id=claim_id, correlation_id=str(uuid.uuid4()))
    payload = doc["payload"]
    payload.update(revision=revision, submitted_on=submitted_on.isoformat())
    payload["claim"].update(nomor_kartu=card, nomor_sep=sep)
    for key, value in changes.items():
        (payload["grouping"] if key in GroupingResult.model_fields else payload["claim"])[key] = value
    event = parse_event_obj(doc)
    assert isinstance(event, ClaimGrouped)
    return event


def without(kind: str, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in docs if d["doc_type"] != kind]


def docs() -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = example("ClaimGrouped")["payload"]["claim"]["documents"]
    return documents


_SERIAL = itertools.count(1)


class World:
    """One test's claims: ids, cards and SEPs that never collide with another test's."""

    def __init__(self, lane: Lane) -> None:
        self.lane = lane

    def ids(self) -> tuple[str, str, str]:
        n = next(_SERIAL)  # unique in the module: tests on the shared verifier share its schema
        tag = uuid.uuid4().int % 10**6
        return f"V-{self.lane.suffix}-{n}", f"{tag:07d}{n:06d}", f"0301R0011126V{n:06d}"

    async def events(self, claim_id: str) -> list[Envelope]:
        out = []
        for topic in ("claims.verified", "claims.pended", "claims.rejected", "claims.dispute-resolved"):
            out += [e for e in await self.lane.events(topic) if e.claim_id == claim_id]
        return sorted(out, key=lambda e: e.occurred_at)


async def state(pool: asyncpg.Pool, claim_id: str) -> str | None:
    value: str | None = await pool.fetchval("SELECT state FROM claims WHERE claim_id = $1", claim_id)
    return value


async def reach(pool: asyncpg.Pool, claim_id: str, wanted: str) -> None:
    async def check() -> bool:
        return await state(pool, claim_id) == wanted

    await eventually(check)


async def drained(pool: asyncpg.Pool) -> None:
    async def check() -> bool:
        return int(await pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")) == 0

    await eventually(check)


async def setup_member(lane: Lane, pool: asyncpg.Pool, card: str, **changes: Any) -> None:
    await lane.publish([member(card, **changes)])

    async def projected() -> bool:
        return bool(await pool.fetchval("SELECT true FROM participants WHERE nomor_kartu = $1", card))

    await eventually(projected)


async def test_clean_claim_is_verified_and_redelivery_changes_nothing(
    lane: Lane, verifier: tuple[ServiceRuntime, asyncpg.Pool]
) -> None:
    _, pool = verifier
    world = World(lane)
    claim_id, card, sep = world.ids()
    await setup_member(lane, pool, card)
    event = grouped(claim_id, card, sep)
    await lane.publish([event])
    await reach(pool, claim_id, "verified")
    await lane.publish([event])  # the same event again
    marker_id, marker_card, marker_sep = world.ids()
    await setup_member(lane, pool, marker_card)
    await lane.publish([grouped(marker_id, marker_card, marker_sep)])
    await reach(pool, marker_id, "verified")
    await drained(pool)
    (verified,) = [e for e in await world.events(claim_id)]
    assert isinstance(verified, ClaimVerified)
    assert verified.payload.approved_amount == event.payload.grouping.total_tarif
    assert verified.payload.verified_on == MONDAY
    assert verified.payload.deemed_complete is False
    assert verified.causation_id == event.event_id


async def test_missing_consent_is_pended_then_resubmitted_with_consent_and_verified(
    lane: Lane, verifier: tuple[ServiceRuntime, asyncpg.Pool], clock: FixedClock
) -> None:
    _, pool = verifier
    world = World(lane)
    claim_id, card, sep = world.ids()
    await setup_member(lane, pool, card)
    await lane.publish([grouped(claim_id, card, sep, documents=without("informed_consent", docs()))])
    await reach(pool, claim_id, "pended")
    clock.advance(timedelta(days=3))
    await lane.publish([grouped(claim_id, card, sep, revision=1, submitted_on=date(2026, 11, 12))])
    await reach(pool, claim_id, "verified")
    await drained(pool)
    pended, verified = await world.events(claim_id)
    assert isinstance(pended, ClaimPended)
    assert [m.code for m in pended.payload.missing] == ["V-DOC-CONSENT"]
    assert pended.payload.resubmit_by == date(2026, 11, 18)  # 10,11,12,13,16,17,18 Nov: 7 working days
    assert isinstance(verified, ClaimVerified)
    assert verified.payload.revision == 1
    assert verified.payload.verified_on == date(2026, 11, 12)


async def test_pended_and_not_resubmitted_expires_the_day_after_resubmit_by(
    lane: Lane, verifier: tuple[ServiceRuntime, asyncpg.Pool], clock: FixedClock
) -> None:
    runtime, pool = verifier
    assert runtime.ctx is not None
    world = World(lane)
    claim_id, card, sep = world.ids()
    await setup_member(lane, pool, card)
    await lane.publish([grouped(claim_id, card, sep, documents=without("resume_medis", docs()))])
    await reach(pool, claim_id, "pended")
    await sweep_day(runtime.ctx, date(2026, 11, 18))  # the last day to resubmit: still pended
    assert await state(pool, claim_id) == "pended"
    await sweep_day(runtime.ctx, date(2026, 11, 19))
    assert await state(pool, claim_id) == "pend_expired"
    await drained(pool)
    expired = (await world.events(claim_id))[-1]
    assert isinstance(expired, ClaimRejected)
    assert expired.payload.reasons[0].code == "V-PEND-EXPIRED"
    assert expired.payload.rejected_on == date(2026, 11, 19)
    # A resubmission now is refused, naming the rule.
    await lane.publish([grouped(claim_id, card, sep, revision=1, submitted_on=date(2026, 11, 20))])

    async def refused() -> bool:
        rejections = [e for e in await world.events(claim_id) if isinstance(e, ClaimRejected)]
        return len(rejections) == 2

    await eventually(refused)
    late = (await world.events(claim_id))[-1]
    assert isinstance(late, ClaimRejected)
    assert late.payload.reasons[0].code == "V-STATE-RESUBMIT-NOT-PENDED"


async def _adjusted(lane: Lane, pool: asyncpg.Pool, world: World) -> tuple[str, str, str, ClaimVerified]:
    claim_id, card, sep = world.ids()
    await setup_member(lane, pool, card)
    # K56.7 (ileus) is the MCC the grouper says raised severity; nothing supports it: regrouped to I
    basis = [{"code": "K56.7", "level": "MCC"}]
    figures = [{"severity": "I", "tarif": 4_000_000}, {"severity": "III", "tarif": 5_634_100}]
    await lane.publish(
        [
            grouped(
                claim_id, card, sep, severity="III", diagnosa=["K35.8", "K56.7"],
                severity_basis=basis, tarif_by_severity=figures,
            )
        ]
    )  # fmt: skip
    await reach(pool, claim_id, "verified_adjusted")
    await drained(pool)
    (verified,) = await world.events(claim_id)
    assert isinstance(verified, ClaimVerified)
    return claim_id, card, sep, verified


def dispute(claim_id: str, sep: str, on: date, amount: int) -> ClaimDisputed:
    doc = example("ClaimDisputed")
    doc.update(event_id=str(uuid.uuid4()), claim_id=claim_id)
    doc["payload"].update(nomor_sep=sep, disputed_on=on.isoformat(), requested_amount=amount)
    event = parse_event_obj(doc)
    assert isinstance(event, ClaimDisputed)
    return event


def ruling(claim_id: str, outcome: str, at: datetime, amount: int | None = None) -> DisputeResolutionRequested:
    """The dispute team's ruling, made at `at` (claimsctl stamps the instant the operator acts)."""
    doc = example("DisputeResolutionRequested")
    doc.update(event_id=str(uuid.uuid4()), claim_id=claim_id, occurred_at=at.isoformat())
    doc["payload"].update(outcome=outcome, amount=amount)
    event = parse_event_obj(doc)
    assert isinstance(event, DisputeResolutionRequested)
    return sign(event)


async def test_adjusted_then_disputed_then_upheld_gives_a_supplementary_verification(
    lane: Lane, verifier: tuple[ServiceRuntime, asyncpg.Pool], clock: FixedClock
) -> None:
    _, pool = verifier
    world = World(lane)
    claim_id, _, sep, verified = await _adjusted(lane, pool, world)
    (adjustment,) = verified.payload.adjustments
    assert adjustment.reason.code == "V-SEVERITY-UNSUPPORTED"
    assert adjustment.amount == 1_634_100  # 5,634,100 (III as grouped) - 4,000,000 (the same group at I)
    assert verified.payload.approved_amount == verified.payload.claimed_amount - adjustment.amount
    assert verified.payload.dispute_by == date(2026, 11, 27)  # 14 working days after 9 Nov

    await lane.publish([dispute(claim_id, sep, date(2026, 11, 12), verified.payload.claimed_amount)])
    await reach(pool, claim_id, "disputed")
    await lane.publish([ruling(claim_id, "upheld", clock.now())])
    await reach(pool, claim_id, "dispute_resolved")
    await drained(pool)
    events = await world.events(claim_id)
    resolved = [e for e in events if e.event_type == "ClaimDisputeResolved"]  # type: ignore[attr-defined]
    supplementary = [e for e in events if isinstance(e, ClaimVerified) and e.payload.verification_seq == 1]
    assert len(resolved) == 1
    assert resolved[0].payload.supplementary_amount == adjustment.amount  # type: ignore[attr-defined]
    assert resolved[0].payload.reviewer == "test.tkmkb"  # type: ignore[attr-defined]
    (extra,) = supplementary
    assert extra.payload.approved_amount == adjustment.amount
    history = await pool.fetch("SELECT kind FROM claim_history WHERE claim_id = $1 ORDER BY id", claim_id)
    assert "out" in [h["kind"] for h in history]


async def test_a_dispute_after_the_window_is_rejected_with_the_reason(
    own_lane: Lane, own_verifier: tuple[ServiceRuntime, asyncpg.Pool], own_clock: FixedClock
) -> None:
    _, pool = own_verifier
    world = World(own_lane)
    claim_id, _, sep, verified = await _adjusted(own_lane, pool, world)
    own_clock.set(datetime(2026, 11, 30, 2, 0, tzinfo=UTC))  # received the working day after dispute_by (27 Nov)
    # Dated inside the window by the hospital: the window is judged on the day BPJS receives it.
    await own_lane.publish([dispute(claim_id, sep, date(2026, 11, 20), verified.payload.claimed_amount)])

    async def refused() -> bool:
        return any(isinstance(e, ClaimRejected) for e in await world.events(claim_id))

    await eventually(refused)
    (rejection,) = [e for e in await world.events(claim_id) if isinstance(e, ClaimRejected)]
    assert rejection.payload.reasons[0].code == "V-DISPUTE-LATE"
    assert rejection.payload.reasons[0].field == "disputed_on"
    assert rejection.payload.refusal is True  # the claim stays verified-adjusted and payable
    assert await state(pool, claim_id) == "verified_adjusted"  # unchanged


async def test_ineligible_participant_is_rejected(lane: Lane, verifier: tuple[ServiceRuntime, asyncpg.Pool]) -> None:
    _, pool = verifier
    world = World(lane)
    claim_id, card, sep = world.ids()
    await setup_member(lane, pool, card, status="inactive", status_reason="tunggakan iuran")
    await lane.publish([grouped(claim_id, card, sep)])
    await reach(pool, claim_id, "rejected")
    await drained(pool)
    (rejected,) = await world.events(claim_id)
    assert isinstance(rejected, ClaimRejected)
    assert "V-ELIG-INACTIVE" in [r.code for r in rejected.payload.reasons]
    assert rejected.payload.refusal is False  # the claim itself is not payable


async def test_duplicate_sep_is_rejected(lane: Lane, verifier: tuple[ServiceRuntime, asyncpg.Pool]) -> None:
    _, pool = verifier
    world = World(lane)
    first_id, card, sep = world.ids()
    second_id = first_id + "-dup"
    await setup_member(lane, pool, card)
    await lane.publish([grouped(first_id, card, sep)])
    await reach(pool, first_id, "verified")
    await lane.publish([grouped(second_id, card, sep)])
    await reach(pool, second_id, "rejected")
    await drained(pool)
    (rejected,) = await world.events(second_id)
    assert isinstance(rejected, ClaimRejected)
    assert [r.code for r in rejected.payload.reasons] == ["V-DUP-SEP"]


async def test_a_held_claim_gets_the_reviewers_outcome(
    lane: Lane, verifier: tuple[ServiceRuntime, asyncpg.Pool], clock: FixedClock
) -> None:
    _, pool = verifier
    world = World(lane)
    claim_id, card, sep = world.ids()
    await setup_member(lane, pool, card)
    await lane.publish([grouped(claim_id, card, sep, tgl_masuk="2026-10-20")])  # 17 days: outside K-1's 1-10
    await reach(pool, claim_id, "in_review")
    reasons = await pool.fetchval("SELECT review_reasons::text FROM claims WHERE claim_id = $1", claim_id)
    assert "V-LOS-RANGE" in reasons
    doc = example("ReviewDecisionRequested")
    doc.update(event_id=str(uuid.uuid4()), claim_id=claim_id, occurred_at=clock.now().isoformat())
    decision = parse_event_obj(doc)
    assert isinstance(decision, ReviewDecisionRequested)
    await lane.publish([sign(decision)])
    await reach(pool, claim_id, "verified_adjusted")
    await drained(pool)
    (verified,) = await world.events(claim_id)
    assert isinstance(verified, ClaimVerified)
    assert verified.payload.approved_amount == decision.payload.approved_amount


async def test_a_held_claim_nobody_decides_is_deemed_complete_on_the_right_day(
    lane: Lane, verifier: tuple[ServiceRuntime, asyncpg.Pool]
) -> None:
    runtime, pool = verifier
    assert runtime.ctx is not None
    world = World(lane)
    claim_id, card, sep = world.ids()
    await setup_member(lane, pool, card)
    event = grouped(claim_id, card, sep, tgl_masuk="2026-10-20")
    await lane.publish([event])
    await reach(pool, claim_id, "in_review")
    await sweep_day(runtime.ctx, date(2026, 11, 18))
    assert await state(pool, claim_id) == "in_review"
    await sweep_day(runtime.ctx, date(2026, 11, 19))  # submitted 9 Nov + 10 days
    assert await state(pool, claim_id) == "verified"
    await drained(pool)
    (verified,) = await world.events(claim_id)
    assert isinstance(verified, ClaimVerified)
    assert verified.payload.deemed_complete is True
    assert verified.payload.verified_on == date(2026, 11, 19)
    assert verified.payload.approved_amount == event.payload.grouping.total_tarif


async def test_two_thousand_claims_with_a_second_instance_joining_midway(
    own_lane: Lane, own_clock: FixedClock, stack: Stack
) -> None:
    spec = own_lane.isolate(SPEC)
    world = World(own_lane)
    claims = [world.ids() for _ in range(2000)]
    async with running(spec, own_lane.settings(max_batch=100)) as first_instance:
        first = tally_work(first_instance)
        pool = await db.create_pool(stack.database_url, spec.schema)
        try:
            await own_lane.publish([member(card) for _, card, _ in claims])

            async def members() -> bool:
                return int(await pool.fetchval("SELECT count(*) FROM participants")) == 2000

            await eventually(members, within=60)
            await own_lane.publish([grouped(c, card, sep) for c, card, sep in claims[:1000]])
            async with running(spec, own_lane.settings(max_batch=100)) as second_instance:
                second = tally_work(second_instance)
                # It joins while the first 1,000 are in flight; the rest arrive once it holds partitions.
                await eventually(lambda: own_lane.instances_joined(spec, 2), within=60)
                await own_lane.publish([grouped(c, card, sep) for c, card, sep in claims[1000:]])

                async def counts() -> dict[str, int]:
                    rows = await pool.fetch("SELECT state, count(*) AS n FROM claims GROUP BY state")
                    return {r["state"]: int(r["n"]) for r in rows}

                async def done() -> bool:
                    return (await counts()).get("verified") == 2000

                try:
                    await eventually(done, within=120)
                except AssertionError as exc:
                    raise AssertionError(f"claims by state: {await counts()}") from exc
                await drained(pool)
        finally:
            await pool.close()
    verified = [e for e in await own_lane.events("claims.verified") if isinstance(e, ClaimVerified)]
    assert len(verified) == 2000
    assert {e.claim_id for e in verified} == {c for c, _, _ in claims}
    assert second.applied > 0, f"the second instance applied nothing (the first applied {first.applied})"


async def test_one_sep_claimed_twice_at_once_is_verified_once_across_two_instances(
    own_lane: Lane, own_clock: FixedClock, stack: Stack
) -> None:
    spec = own_lane.isolate(SPEC)
    world = World(own_lane)
    pairs = [world.ids() for _ in range(200)]
    async with (
        running(spec, own_lane.settings(max_batch=50)) as one,
        running(spec, own_lane.settings(max_batch=50)) as two,
    ):
        tallies = [tally_work(one), tally_work(two)]
        await eventually(lambda: own_lane.instances_joined(spec, 2), within=60)  # both hold partitions
        pool = await db.create_pool(stack.database_url, spec.schema)
        try:
            await own_lane.publish([member(card) for _, card, _ in pairs])

            async def members() -> bool:
                return int(await pool.fetchval("SELECT count(*) FROM participants")) == len(pairs)

            await eventually(members, within=60)
            # Each SEP arrives twice under two claim ids (two hospitals' systems, two partitions), at once.
            await own_lane.publish(
                [grouped(c + suffix, card, sep) for c, card, sep in pairs for suffix in ("-a", "-b")]
            )

            async def decided() -> bool:
                n = await pool.fetchval("SELECT count(*) FROM claims WHERE state IN ('verified', 'rejected')")
                return int(n) == 2 * len(pairs)

            await eventually(decided, within=120)
            rows = await pool.fetch("SELECT nomor_sep, state FROM claims")
        finally:
            await pool.close()
    by_sep: dict[str, list[str]] = {}
    for r in rows:
        by_sep.setdefault(r["nomor_sep"], []).append(r["state"])
    assert all(sorted(states) == ["rejected", "verified"] for states in by_sep.values()), "a SEP verified twice"
    assert min(t.applied for t in tallies) > 0, f"events applied per instance: {[t.applied for t in tallies]}"


# --------------------------------------------------------------------------- receipt time, not processing time
# The kernel stamps `received_at` when a hospital's record is first consumed (the broker's append
# time on Kafka with LogAppendTime and the real clock; the consumer's clock otherwise, as here: the
# local broker ignores message.timestamp.type). So "received before midnight, consumed after" is the
# grouper receiving at 23:59 and the verifier, lagging, consuming at 00:30.

WIB = ZoneInfo("Asia/Jakarta")


def wib(day: int, hour: int, minute: int) -> datetime:
    """An instant in November 2026, Jakarta time."""
    return datetime(2026, 11, day, hour, minute, tzinfo=WIB)


def resubmission(claim_id: str, card: str, sep: str) -> ClaimSubmitted:
    """Revision 1 of a claim as the hospital sends it, with every document."""
    doc = example("ClaimSubmitted")
    doc.update(event_id=str(uuid.uuid4()), claim_id=claim_id, correlation_id=str(uuid.uuid4()))
    doc["payload"]["revision"] = 1
    doc["payload"]["claim"].update(nomor_kartu=card, nomor_sep=sep)
    event = parse_event_obj(doc)
    assert isinstance(event, ClaimSubmitted)
    return event


@asynccontextmanager
async def lagging_verifier(lane: Lane) -> AsyncIterator[ServiceRuntime]:
    """The verifier with its database, relay and sweeper up but its consumers not started yet."""
    runtime = ServiceRuntime(lane.isolate(SPEC), lane.settings())
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.broker.stop()
        await runtime.stop()


async def _pended(lane: Lane, pool: asyncpg.Pool, world: World) -> tuple[str, str, str]:
    """A claim pended on Monday 9 November (resume medis missing): resubmit_by Wednesday 18 November."""
    claim_id, card, sep = world.ids()
    await setup_member(lane, pool, card)
    await lane.publish([grouped(claim_id, card, sep, documents=without("resume_medis", docs()))])
    await reach(pool, claim_id, "pended")
    resubmit_by = await pool.fetchval("SELECT status->>'resubmit_by' FROM claims WHERE claim_id = $1", claim_id)
    assert resubmit_by == "2026-11-18"
    return claim_id, card, sep


async def _regrouped(lane: Lane, claim_id: str) -> ClaimGrouped:
    """The grouper's answer to revision 1 of `claim_id`."""

    async def found() -> list[ClaimGrouped]:
        events = await lane.events("claims.grouped")
        return [e for e in events if isinstance(e, ClaimGrouped) and e.claim_id == claim_id and e.payload.revision]

    await eventually(found)
    (event,) = await found()
    return event


async def test_a_resubmission_received_before_midnight_and_verified_after_it_is_on_time(
    own_lane: Lane, own_verifier: tuple[ServiceRuntime, asyncpg.Pool], own_clock: FixedClock
) -> None:
    _, pool = own_verifier
    world = World(own_lane)
    on_time, card, sep = await _pended(own_lane, pool, world)
    late, late_card, late_sep = await _pended(own_lane, pool, world)
    await own_verifier[0].broker.stop()  # from here the verifier lags: nothing on claims.grouped is consumed
    async with running(own_lane.isolate(GROUPER), own_lane.settings()):
        own_clock.set(wib(18, 23, 59))
        await own_lane.publish([resubmission(on_time, card, sep)])
        first = await _regrouped(own_lane, on_time)
        own_clock.set(wib(19, 0, 1))
        await own_lane.publish([resubmission(late, late_card, late_sep)])
        second = await _regrouped(own_lane, late)
    assert (first.payload.submitted_on, first.received_at) == (date(2026, 11, 18), wib(18, 23, 59))
    assert (second.payload.submitted_on, second.received_at) == (date(2026, 11, 19), wib(19, 0, 1))
    own_clock.set(wib(19, 0, 30))
    async with lagging_verifier(own_lane) as runtime:
        await runtime.broker.start()  # the verifier consumes both resubmissions after midnight
        await reach(pool, on_time, "verified")

        async def refused() -> bool:
            return any(isinstance(e, ClaimRejected) for e in await world.events(late))

        await eventually(refused)
    (rejection,) = [e for e in await world.events(late) if isinstance(e, ClaimRejected)]
    assert rejection.payload.reasons[0].code == "V-STATE-RESUBMIT-LATE"
    assert rejection.payload.reasons[0].message_en.endswith("(2026-11-19 > 2026-11-18)")
    assert await state(pool, late) == "pended"  # refused, not changed: the sweep will expire it


def review(claim_id: str, at: datetime, **decision: Any) -> ReviewDecisionRequested:
    """The reviewer's decision on a held claim (verify unless told), made at `at` (the instant claimsctl stamps)."""
    doc = example("ReviewDecisionRequested")
    doc.update(event_id=str(uuid.uuid4()), claim_id=claim_id, occurred_at=at.isoformat())
    doc["payload"].update({"outcome": "verify", "approved_amount": None, **decision})
    event = parse_event_obj(doc)
    assert isinstance(event, ReviewDecisionRequested)
    return sign(event)


async def test_a_review_decision_made_before_midnight_and_consumed_after_it_verifies_that_day(
    lane: Lane, verifier: tuple[ServiceRuntime, asyncpg.Pool], clock: FixedClock
) -> None:
    _, pool = verifier
    world = World(lane)
    claim_id, card, sep = world.ids()
    future_id, future_card, future_sep = world.ids()
    await setup_member(lane, pool, card)
    await setup_member(lane, pool, future_card)
    await lane.publish([grouped(claim_id, card, sep, tgl_masuk="2026-10-20")])  # held: length of stay
    await lane.publish([grouped(future_id, future_card, future_sep, tgl_masuk="2026-10-20")])
    await reach(pool, claim_id, "in_review")
    await reach(pool, future_id, "in_review")
    clock.set(wib(11, 0, 30))  # Wednesday 00:30: the verifier consumes the decisions now
    await lane.publish([review(claim_id, wib(10, 23, 50)), review(future_id, wib(11, 1, 0))])
    await reach(pool, claim_id, "verified")
    await drained(pool)
    (verified,) = await world.events(claim_id)
    assert isinstance(verified, ClaimVerified)
    assert verified.payload.verified_on == date(2026, 11, 10)  # Tuesday: the payment clock starts then

    async def dead_lettered() -> bool:
        return bool(await lane.records("verifier.commands.dlq"))

    await eventually(dead_lettered)
    (letter,) = await lane.records("verifier.commands.dlq")
    headers = {k: v.decode() for k, v in letter.headers}
    assert headers["dlq.error"] == "V-CMD-FUTURE"
    assert "occurred_at" in headers["dlq.reason"]
    assert await state(pool, future_id) == "in_review"  # a command from 30 minutes ahead decides nothing


async def test_the_sweep_waits_for_a_resubmission_still_in_the_verifiers_backlog(
    own_lane: Lane, own_verifier: tuple[ServiceRuntime, asyncpg.Pool], own_clock: FixedClock
) -> None:
    _, pool = own_verifier
    world = World(own_lane)
    claim_id, card, sep = await _pended(own_lane, pool, world)
    await own_verifier[0].broker.stop()
    grouper_spec = own_lane.isolate(GROUPER)
    async with running(grouper_spec, own_lane.settings()):
        own_clock.set(wib(18, 23, 59))  # the hospital resubmits a minute before its deadline ends
        await own_lane.publish([resubmission(claim_id, card, sep)])
        await _regrouped(own_lane, claim_id)
    own_clock.set(wib(19, 0, 5))  # the sweep of Wednesday 18 November is due; the verifier has not caught up
    verifier_group = own_lane.isolate(SPEC).consumes[0].name
    stages = {
        grouper_spec.consumes[0].name: ["claims.submitted"],
        verifier_group: ["claims.grouped", "claims.disputed", "verifier.commands"],
    }
    checks: list[float] = []

    async def counted_sleep(seconds: float) -> None:
        checks.append(seconds)
        await asyncio.sleep(seconds)

    async def looked_three_times() -> bool:
        return len(checks) >= 3

    async with lagging_verifier(own_lane) as runtime:
        assert runtime.ctx is not None
        ctx = runtime.ctx
        progress = BrokerProgress(own_lane.stack.bootstrap_servers, own_lane.prefix)
        sweep = asyncio.create_task(
            sweep_when_caught_up(
                date(2026, 11, 18), own_clock, WIB, progress, stages, lambda d: sweep_day(ctx, d),
                retry_s=0.2, sleep=counted_sleep,
            )
        )  # fmt: skip
        try:
            await eventually(looked_three_times)  # it looked three times and waited each time
            assert not sweep.done()
            assert await state(pool, claim_id) == "pended"  # not expired while the resubmission is in flight
            await runtime.broker.start()
            assert await asyncio.wait_for(sweep, 60) == 0  # ran once caught up, and found nothing to expire
        finally:
            sweep.cancel()
        assert await state(pool, claim_id) == "verified"
        await drained(pool)
    assert [type(e).__name__ for e in await world.events(claim_id)] == ["ClaimPended", "ClaimVerified"]


async def test_the_sweep_does_not_deem_complete_a_claim_whose_review_decision_is_in_the_backlog(
    own_lane: Lane, own_verifier: tuple[ServiceRuntime, asyncpg.Pool], own_clock: FixedClock
) -> None:
    _, pool = own_verifier
    world = World(own_lane)
    claim_id, card, sep = world.ids()
    await setup_member(own_lane, pool, card)
    await own_lane.publish([grouped(claim_id, card, sep, tgl_masuk="2026-10-20")])  # held; window ends 19 Nov
    await reach(pool, claim_id, "in_review")
    await own_verifier[0].broker.stop()  # the verifier lags from here
    # The reviewer pends it ten minutes before the window ends.
    await own_lane.publish([review(claim_id, wib(19, 23, 50), outcome="pend", missing=["lab_result"], note="lab")])
    own_clock.set(wib(20, 0, 5))  # the sweep of 19 November is due
    stages = {own_lane.isolate(SPEC).consumes[0].name: ["claims.grouped", "claims.disputed", "verifier.commands"]}
    checks: list[float] = []

    async def counted_sleep(seconds: float) -> None:
        checks.append(seconds)
        await asyncio.sleep(seconds)

    async def looked_three_times() -> bool:
        return len(checks) >= 3

    async with lagging_verifier(own_lane) as runtime:
        assert runtime.ctx is not None
        ctx = runtime.ctx
        progress = BrokerProgress(own_lane.stack.bootstrap_servers, own_lane.prefix)
        sweep = asyncio.create_task(
            sweep_when_caught_up(
                date(2026, 11, 19), own_clock, WIB, progress, stages, lambda d: sweep_day(ctx, d),
                retry_s=0.2, sleep=counted_sleep,
            )
        )  # fmt: skip
        try:
            await eventually(looked_three_times)
            assert not sweep.done()
            assert await state(pool, claim_id) == "in_review"  # not deemed complete meanwhile
            await runtime.broker.start()
            assert await asyncio.wait_for(sweep, 60) == 0
        finally:
            sweep.cancel()
        assert await state(pool, claim_id) == "pended"
        await drained(pool)
    (pended,) = await world.events(claim_id)
    assert isinstance(pended, ClaimPended)
    assert pended.payload.pended_on == date(2026, 11, 19)  # dated by the reviewer's act, not by 20 Nov
    assert pended.payload.resubmit_by == date(2026, 11, 30)  # 7 working days after Thu 19 Nov


async def test_membership_lapsing_mid_stay_keeps_the_stay_payable(
    lane: Lane, verifier: tuple[ServiceRuntime, asyncpg.Pool]
) -> None:
    _, pool = verifier
    world = World(lane)
    claim_id, card, sep = world.ids()
    await setup_member(lane, pool, card, valid_to="2026-11-03")  # active on the SEP date 2 Nov, not on 4-6 Nov
    await lane.publish([grouped(claim_id, card, sep)])
    await reach(pool, claim_id, "verified")


async def test_a_member_registered_by_a_local_government_may_not_upgrade(
    lane: Lane, verifier: tuple[ServiceRuntime, asyncpg.Pool]
) -> None:
    _, pool = verifier
    world = World(lane)
    claim_id, card, sep = world.ids()
    await setup_member(lane, pool, card, member_type="PBPU", kelas_hak=2, member_category="pemda")
    await lane.publish([grouped(claim_id, card, sep, kelas_rawat=2, upgrade_class_ind=True, upgrade_class_class="vip")])
    await reach(pool, claim_id, "rejected")
    await drained(pool)
    (rejected,) = await world.events(claim_id)
    assert isinstance(rejected, ClaimRejected)
    assert [(r.code, r.field) for r in rejected.payload.reasons] == [("V-ELIG-UPGRADE-PEMDA", "upgrade_class_ind")]


async def test_a_stay_overlapping_the_members_stay_under_another_sep_is_held_for_review(
    lane: Lane, verifier: tuple[ServiceRuntime, asyncpg.Pool]
) -> None:
    _, pool = verifier
    world = World(lane)
    first_id, card, first_sep = world.ids()
    second_id, _, second_sep = world.ids()
    await setup_member(lane, pool, card)
    await lane.publish([grouped(first_id, card, first_sep)])  # 2-6 Nov
    await reach(pool, first_id, "verified")
    await lane.publish([grouped(second_id, card, second_sep, tgl_masuk="2026-11-04", tgl_pulang="2026-11-08")])
    await reach(pool, second_id, "in_review")
    reasons = await pool.fetchval("SELECT review_reasons::text FROM claims WHERE claim_id = $1", second_id)
    assert "V-EPISODE-OVERLAP" in reasons and first_id in reasons
