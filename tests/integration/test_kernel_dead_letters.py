"""The `empty` and `wrong-topic` dead letters, driving the kernel's BatchProcessor on the real PostgreSQL.

Records are handed over as the broker hands them; what the kernel would publish is read back from the
outbox (the relay publishes exactly those rows). A dead-lettered record never reaches the handler and is
never recorded in the inbox, and the records after it are applied.
"""

from __future__ import annotations

import base64
import json

import asyncpg
import pytest

from shared.consumer import BatchProcessor, RecordView
from shared.events import ClaimGrouped, ClaimSubmitted, Envelope, encode_event, parse_event_obj
from tests.support.applier import record_effect
from tests.support.factories import submitted
from tests.support.hostile import fresh

pytestmark = pytest.mark.integration

SUBMITTED, GROUPED = "claims.submitted", "claims.grouped"
CONSUMER = "dead-letter-test"


def record(offset: int, key: bytes | None, value: bytes | None, topic: str = SUBMITTED) -> RecordView:
    return RecordView(topic, 0, offset, key, value, ())


def of(event: Envelope, offset: int, topic: str = SUBMITTED) -> RecordView:
    return record(offset, event.key.encode(), encode_event(event), topic)


def processor(pool: asyncpg.Pool, schema: str, accepted: dict[str, tuple[type[Envelope], ...]]) -> BatchProcessor:
    return BatchProcessor(pool, schema, CONSUMER, accepted, record_effect, retry_base_delay_s=0.01)


async def dead_letters(pool: asyncpg.Pool, topic: str = SUBMITTED) -> list[tuple[bytes | None, bytes, dict[str, str]]]:
    """(key, value, headers) of every dead letter the kernel wrote for `topic`, in order."""
    rows = await pool.fetch(
        "SELECT key, value, headers::text AS h FROM outbox WHERE topic = $1 ORDER BY id", topic + ".dlq"
    )
    return [(r["key"], r["value"], _headers(r["h"])) for r in rows]


def _headers(raw: str) -> dict[str, str]:
    return {base64.b64decode(k).decode(): base64.b64decode(v).decode() for k, v in json.loads(raw)}


async def applied(pool: asyncpg.Pool) -> list[str]:
    return [r["claim_id"] for r in await pool.fetch("SELECT claim_id FROM effects ORDER BY applied_at, claim_id")]


async def inbox(pool: asyncpg.Pool) -> set[str]:
    return {str(r["event_id"]) for r in await pool.fetch("SELECT event_id FROM inbox")}


async def test_a_record_without_a_value_is_dead_lettered_empty_and_the_next_event_is_applied(
    pool: asyncpg.Pool, schema: str
) -> None:
    after = submitted("C-AFTER")
    batch = [record(7, b"C-TOMBSTONE", None), record(8, b"C-EMPTY", b""), of(after, 9)]

    result = await processor(pool, schema, {SUBMITTED: (ClaimSubmitted,)}).process(batch)

    assert (result.applied, result.dead_letters) == (1, 2)
    letters = await dead_letters(pool)
    assert [(key, value) for key, value, _ in letters] == [(b"C-TOMBSTONE", b""), (b"C-EMPTY", b"")]
    for _, _, headers in letters:
        assert headers["dlq.error"] == "empty"
        assert headers["dlq.reason"] == "record has no value"
        assert headers["dlq.consumer"] == CONSUMER
        assert headers["dlq.source.topic"] == SUBMITTED
    assert [h["dlq.source.offset"] for _, _, h in letters] == ["7", "8"]
    assert await applied(pool) == ["C-AFTER"]
    assert await inbox(pool) == {str(after.event_id)}


async def test_a_valid_event_on_a_topic_that_does_not_carry_its_type_is_dead_lettered_wrong_topic(
    pool: asyncpg.Pool, schema: str
) -> None:
    stray = parse_event_obj(fresh(ClaimGrouped, "C-STRAY"))  # valid, keyed by its claim id
    after = submitted("C-AFTER")

    result = await processor(pool, schema, {SUBMITTED: (ClaimSubmitted,)}).process([of(stray, 3), of(after, 4)])

    assert (result.applied, result.dead_letters) == (1, 1)
    [(key, value, headers)] = await dead_letters(pool)
    assert (key, value) == (b"C-STRAY", encode_event(stray))  # the original bytes
    assert headers["dlq.error"] == "wrong-topic"
    assert headers["dlq.reason"] == "ClaimGrouped is not accepted on claims.submitted (accepts ClaimSubmitted)"
    assert await applied(pool) == ["C-AFTER"]  # the stray one never reached the handler
    assert await inbox(pool) == {str(after.event_id)}


async def test_wrong_topic_is_judged_per_topic_even_when_the_consumer_reads_that_type_elsewhere(
    pool: asyncpg.Pool, schema: str
) -> None:
    # One consumer reads both topics; a ClaimGrouped belongs on claims.grouped, not on claims.submitted.
    accepted: dict[str, tuple[type[Envelope], ...]] = {SUBMITTED: (ClaimSubmitted,), GROUPED: (ClaimGrouped,)}
    misplaced = parse_event_obj(fresh(ClaimGrouped, "C-MISPLACED"))
    placed = parse_event_obj(fresh(ClaimGrouped, "C-PLACED"))

    result = await processor(pool, schema, accepted).process([of(misplaced, 0, SUBMITTED), of(placed, 0, GROUPED)])

    assert (result.applied, result.dead_letters) == (1, 1)
    [(key, _, headers)] = await dead_letters(pool, SUBMITTED)
    assert key == b"C-MISPLACED" and headers["dlq.error"] == "wrong-topic"
    assert await dead_letters(pool, GROUPED) == []
    assert await applied(pool) == ["C-PLACED"]
