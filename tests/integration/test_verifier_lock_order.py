"""The verifier's consumer and its sweeper never deadlock: both take their locks in one order.

A consumer batch that resubmits claims in the reverse of their claim_id order (as partitions deliver
them) runs at the same time as the daily sweep (which walks claims by claim_id), on the real database
through the real kernel, handler and sweeper. Before the fix, the batch locked claim Z then A while
the sweep locked A then Z, and PostgreSQL answered one of them with DeadlockDetectedError.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest

from services.verifier.entrypoints.sweeper import sweep_day
from services.verifier.service import SPEC
from shared import db
from shared.clock import FixedClock, set_clock
from shared.consumer import BatchProcessor, RecordView
from shared.events import ClaimGrouped, Envelope, ParticipantChanged, encode_event, parse_event_obj
from shared.runtime import ServiceRuntime
from tests.support.factories import example
from tests.support.services import Lane, running

pytestmark = pytest.mark.integration

MONDAY = date(2026, 11, 9)
CLAIMS_PER_ROUND = 24
ROUNDS = 6


@pytest.fixture
def clock() -> Iterator[FixedClock]:
    fixed = FixedClock(datetime(2026, 11, 9, 2, 0, tzinfo=UTC))  # Monday 09:00 in Jakarta
    set_clock(fixed)
    yield fixed
    set_clock(None)


@pytest.fixture
async def verifier(lane: Lane, clock: FixedClock) -> AsyncIterator[tuple[ServiceRuntime, asyncpg.Pool]]:
    spec = lane.isolate(SPEC)
    async with running(spec, lane.settings()) as runtime:
        pool = await db.create_pool(lane.stack.database_url, spec.schema)
        try:
            yield runtime, pool
        finally:
            await pool.close()


def member(card: str) -> ParticipantChanged:
    doc = example("ParticipantChanged")
    doc["event_id"] = str(uuid.uuid4())
    doc["payload"].update({"nomor_kartu": card})
    event = parse_event_obj(doc)
    assert isinstance(event, ParticipantChanged)
    return event


def grouped(claim_id: str, card: str, sep: str, *, revision: int, consent: bool) -> ClaimGrouped:
    """A grouped appendectomy like the worked example; without consent it is pended (V-DOC-CONSENT)."""
    doc = example("ClaimGrouped")
    doc.update(event_id=str(uuid.uuid4()), claim_id=claim_id, correlation_id=str(uuid.uuid4()))
    doc["payload"].update(revision=revision, submitted_on=MONDAY.isoformat())
    claim = doc["payload"]["claim"]
    claim.update(nomor_kartu=card, nomor_sep=sep)
    if not consent:
        claim["documents"] = [d for d in claim["documents"] if d["doc_type"] != "informed_consent"]
    event = parse_event_obj(doc)
    assert isinstance(event, ClaimGrouped)
    return event


def records(events: Sequence[Envelope]) -> list[RecordView]:
    """The events as the broker would deliver them, one partition, in this order."""
    return [RecordView(e.topic, 0, offset, e.key.encode(), encode_event(e), ()) for offset, e in enumerate(events)]


def strict_processor(runtime: ServiceRuntime) -> BatchProcessor:
    """The verifier's real consumer (kernel and handler), but a deadlock is raised instead of retried."""
    real = runtime.processors[runtime.spec.consumes[0].name]
    return BatchProcessor(
        real.pool, real.schema, real.consumer, real.accepted, real.app, retry_attempts=1, clock=real.clock
    )


async def states(pool: asyncpg.Pool, claim_ids: Sequence[str]) -> dict[str, str]:
    rows = await pool.fetch("SELECT claim_id, state FROM claims WHERE claim_id = ANY($1::text[])", list(claim_ids))
    return {r["claim_id"]: r["state"] for r in rows}


async def test_resubmissions_in_reverse_order_and_the_sweep_never_deadlock(
    lane: Lane, verifier: tuple[ServiceRuntime, asyncpg.Pool]
) -> None:
    runtime, pool = verifier
    assert runtime.ctx is not None
    ctx = runtime.ctx
    processor = strict_processor(runtime)
    deadlocks: list[str] = []

    async def resubmit(batch: Sequence[ClaimGrouped]) -> None:
        try:
            await processor.process(records(batch))
        except asyncpg.DeadlockDetectedError as exc:
            deadlocks.append(f"consumer: {exc}")

    async def sweep() -> None:
        try:
            await sweep_day(ctx, MONDAY)
        except asyncpg.DeadlockDetectedError as exc:
            deadlocks.append(f"sweeper: {exc}")

    for round_no in range(ROUNDS):
        tag = uuid.uuid4().int % 10**6
        ids = [f"L-{lane.suffix}-{round_no}-{n:03d}" for n in range(CLAIMS_PER_ROUND)]
        cards = {c: f"{tag:07d}{round_no:02d}{n:04d}" for n, c in enumerate(ids)}
        seps = {c: f"0301R0011126L{round_no:02d}{n:04d}" for n, c in enumerate(ids)}
        await processor.process(records([member(cards[c]) for c in ids]))
        await processor.process(records([grouped(c, cards[c], seps[c], revision=0, consent=False) for c in ids]))
        assert set((await states(pool, ids)).values()) == {"pended"}

        # Claim ids descending in the batch, ascending in the sweep: the order that deadlocked.
        batch = [grouped(c, cards[c], seps[c], revision=1, consent=True) for c in reversed(ids)]
        await asyncio.gather(resubmit(batch), sweep())

        assert deadlocks == []
        assert await states(pool, ids) == dict.fromkeys(ids, "verified")


async def test_the_sweep_waits_for_a_batch_holding_its_claims_and_forgets_none(
    lane: Lane, verifier: tuple[ServiceRuntime, asyncpg.Pool]
) -> None:
    """The sweep waits for the batch's locks (same order) instead of skipping: nothing is left unswept."""
    runtime, pool = verifier
    assert runtime.ctx is not None
    processor = strict_processor(runtime)
    tag = uuid.uuid4().int % 10**6
    ids = [f"S-{lane.suffix}-{n:03d}" for n in range(CLAIMS_PER_ROUND)]
    cards = {c: f"{tag:07d}99{n:04d}" for n, c in enumerate(ids)}
    seps = {c: f"0301R0011126S99{n:04d}" for n, c in enumerate(ids)}
    await processor.process(records([member(cards[c]) for c in ids]))
    await processor.process(records([grouped(c, cards[c], seps[c], revision=0, consent=False) for c in ids]))
    # 7 working days to resubmit: resubmit_by is Wednesday 18 November; the sweep of the 19th expires them.
    half = ids[: CLAIMS_PER_ROUND // 2]
    others = ids[CLAIMS_PER_ROUND // 2 :]
    batch = [grouped(c, cards[c], seps[c], revision=1, consent=True) for c in reversed(half)]
    results: Sequence[Any] = await asyncio.gather(
        processor.process(records(batch)), sweep_day(runtime.ctx, date(2026, 11, 19)), return_exceptions=True
    )
    assert [r for r in results if isinstance(r, BaseException)] == []
    after = await states(pool, ids)
    assert {after[c] for c in others} == {"pend_expired"}
    # Each resubmitted claim was either resubmitted before the sweep reached it (verified) or expired first
    # and its late resubmission refused; none is left pended.
    assert {after[c] for c in half} <= {"verified", "pend_expired"}
