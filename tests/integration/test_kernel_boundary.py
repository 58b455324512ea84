"""The kernel against hostile input, on the real PostgreSQL: one bad event never blocks or loses another.

The processor is driven with records as the broker hands them (topic, partition, offset, key, value,
headers, timestamp); what it would publish is read back from the outbox, where the relay takes it.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest

from shared.clock import FixedClock, RealClock
from shared.consumer import BatchProcessor, Handler, RecordView
from shared.db import Conn
from shared.events import ClaimSubmitted, Envelope, encode_event
from shared.outbox import Tx, _headers_from_json
from tests.support.applier import record_effect
from tests.support.factories import submitted

pytestmark = pytest.mark.integration

TOPIC = "claims.submitted"
CONSUMER = "boundary-test"


def record(offset: int, event: Envelope | None = None, *, value: bytes | None = None, **extra: object) -> RecordView:
    body = encode_event(event) if event is not None else value
    key = event.key.encode() if event is not None else b"k"
    fields: dict[str, object] = {"timestamp": None, "timestamp_type": 0, "headers": ()} | extra
    return RecordView(TOPIC, 0, offset, key, body, fields["headers"], fields["timestamp"], fields["timestamp_type"])  # type: ignore[arg-type]


def processor(pool: asyncpg.Pool, schema: str, handler: Handler, **options: object) -> BatchProcessor:
    return BatchProcessor(
        pool, schema, CONSUMER, {TOPIC: (ClaimSubmitted,)}, handler, retry_base_delay_s=0.01,
        **options,  # type: ignore[arg-type]
    )  # fmt: skip


async def dead_letters(pool: asyncpg.Pool) -> list[dict[str, bytes]]:
    rows = await pool.fetch("SELECT headers::text AS h FROM outbox WHERE topic = $1 ORDER BY id", TOPIC + ".dlq")
    return [dict(_headers_from_json(r["h"])) for r in rows]


async def effects(pool: asyncpg.Pool) -> list[str]:
    return [r["claim_id"] for r in await pool.fetch("SELECT claim_id FROM effects ORDER BY applied_at, claim_id")]


async def in_inbox(pool: asyncpg.Pool, event: Envelope) -> bool:
    return bool(await pool.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", event.event_id))


async def audit_with_note(tx: Tx, event: Envelope) -> None:
    """Writes the coder's id, unescaped as a careless SIMRS bridge would, through a buffered writer."""

    async def write(conn: Conn, rows: list[tuple[object, ...]]) -> None:
        await conn.executemany("INSERT INTO notes (claim_id, note) VALUES ($1, $2)", rows)

    assert isinstance(event, ClaimSubmitted)
    await record_effect(tx, event)
    note = event.payload.claim.coder_nik.encode().decode("unicode_escape")  # "12\\x0034" becomes "12<NUL>34"
    tx.buffer("notes", (event.claim_id, note), write)


async def test_a_value_postgresql_refuses_dead_letters_only_its_event(pool: asyncpg.Pool, schema: str) -> None:
    # The batch's flush fails as a whole (text cannot hold NUL); before, such a batch was redelivered forever.
    await pool.execute("CREATE TABLE notes (claim_id text, note text)")
    good_1, bad, good_2 = submitted("C-GOOD-1"), submitted("C-NUL", coder_nik="12\\x0034"), submitted("C-GOOD-2")

    result = await processor(pool, schema, audit_with_note).process(
        [record(0, good_1), record(1, bad), record(2, good_2)]
    )

    assert (result.applied, result.dead_letters) == (2, 1)
    assert sorted(await effects(pool)) == ["C-GOOD-1", "C-GOOD-2"]
    assert await pool.fetchval("SELECT count(*) FROM notes") == 2
    [letter] = await dead_letters(pool)
    assert letter["dlq.error"] == b"handler-error"
    assert b"CharacterNotInRepertoireError" in letter["dlq.reason"]  # PostgreSQL text cannot hold NUL
    assert not await in_inbox(pool, bad), "a dead-lettered event must not be in the inbox, or a redrive is lost"
    assert await in_inbox(pool, good_1) and await in_inbox(pool, good_2)


async def test_a_refused_event_is_redriven_once_after_the_bug_is_fixed(pool: asyncpg.Pool, schema: str) -> None:
    event, later = submitted("C-BUG"), submitted("C-LATER")

    async def buggy(tx: Tx, ev: Envelope) -> None:
        if ev.claim_id == "C-BUG":
            raise KeyError("a bug in the handler")
        await record_effect(tx, ev)

    await processor(pool, schema, buggy).process([record(0, event), record(1, later)])
    assert await effects(pool) == ["C-LATER"]
    assert [d["dlq.error"] for d in await dead_letters(pool)] == [b"handler-error"]
    assert not await in_inbox(pool, event)

    fixed = processor(pool, schema, record_effect)
    redriven = record(7, event, headers=(("redrive.id", str(uuid.uuid4()).encode()),))
    first = await fixed.process([redriven])
    second = await fixed.process([redriven])  # the same redrive delivered again
    assert (first.applied, first.duplicates) == (1, 0)
    assert (second.applied, second.duplicates) == (0, 1)
    assert sorted(await effects(pool)) == ["C-BUG", "C-LATER"]


async def test_an_output_too_large_is_refused_when_written_and_dead_letters_its_cause(
    pool: asyncpg.Pool, schema: str
) -> None:
    # A 3,000-byte ceiling: the answer to C-BIG (2,000 diagnoses) cannot fit, the others' answers can.
    proc = processor(pool, schema, answer_with_diagnoses, max_output_bytes=3000)
    result = await proc.process(
        [record(0, submitted("C-SMALL")), record(1, submitted("C-BIG")), record(2, submitted("C-AFTER"))]
    )

    assert (result.applied, result.dead_letters) == (2, 1)
    assert sorted(await effects(pool)) == ["C-AFTER", "C-SMALL"]
    [letter] = await dead_letters(pool)
    assert letter["dlq.error"] == b"output-too-large"
    assert b"limit is 3000" in letter["dlq.reason"]
    biggest = await pool.fetchval("SELECT max(length(value)) FROM outbox WHERE topic <> $1", TOPIC + ".dlq")
    assert biggest < 3000, "the outbox must never hold a row the broker would refuse"


async def answer_with_diagnoses(tx: Tx, ev: Envelope) -> None:
    """Answers each claim with an event repeating its diagnoses; C-BIG's repeats them 2,000 times."""
    assert isinstance(ev, ClaimSubmitted)
    await record_effect(tx, ev)
    times = 2000 if ev.claim_id == "C-BIG" else 1
    claim = ev.payload.claim.model_copy(update={"diagnosa": ev.payload.claim.diagnosa[:1] * times})
    tx.emit(ev.model_copy(update={"event_id": uuid.uuid4(), "payload": ev.payload.model_copy(update={"claim": claim})}))


async def test_a_record_over_the_limit_is_dead_lettered_unparsed(pool: asyncpg.Pool, schema: str) -> None:
    ordinary = submitted("C-ORDINARY")
    huge = json.dumps({"event_type": "ClaimSubmitted", "pad": "z" * 300_000}).encode()  # 43 + 300,000 bytes
    proc = processor(pool, schema, record_effect)
    result = await proc.process([record(0, value=huge), record(1, ordinary)])

    assert (result.applied, result.dead_letters) == (1, 1)
    [letter] = await dead_letters(pool)
    assert letter["dlq.error"] == b"too-large"
    assert letter["dlq.reason"] == b"(record): 300043 bytes exceeds the limit of 262144 (KAFKA_MAX_RECORD_BYTES)"
    kept = await pool.fetchval("SELECT value FROM outbox WHERE topic = $1", TOPIC + ".dlq")
    assert kept == huge, "the dead letter keeps the original bytes"


async def test_a_dead_letter_too_large_to_publish_keeps_its_bytes_in_postgresql(
    pool: asyncpg.Pool, schema: str
) -> None:
    huge = b'{"junk": "' + b"q" * 2_000_000 + b'"}'
    proc = processor(pool, schema, record_effect, max_record_bytes=4_000_000)
    result = await proc.process([record(3, value=huge, headers=(("h", b"\x00\xff"),)), record(4, submitted("C-OK"))])

    assert (result.applied, result.dead_letters) == (1, 1)
    [letter] = await dead_letters(pool)
    assert letter["dlq.error"] == b"schema"
    assert letter["dlq.body-schema"] == schema.encode()
    assert letter["dlq.body-bytes"] == b"2000012"
    kept = await pool.fetchrow(
        "SELECT body, key, source_offset FROM dead_letter_bodies WHERE id = $1", int(letter["dlq.body-ref"])
    )
    assert kept is not None and tuple(kept) == (huge, b"k", 3)
    preview = await pool.fetchval("SELECT value FROM outbox WHERE topic = $1", TOPIC + ".dlq")
    assert preview == huge[:4096]


async def test_receipt_time_is_bpjs_own_on_hospital_topics(pool: asyncpg.Pool, schema: str) -> None:
    seen: list[datetime | None] = []

    async def remember(tx: Tx, ev: Envelope) -> None:
        seen.append(ev.received_at)

    backdated = submitted("C-BACKDATED").model_copy(update={"received_at": datetime(2020, 1, 1, tzinfo=UTC)})
    appended_ms = int(datetime(2026, 3, 2, 16, 59, 30, tzinfo=UTC).timestamp() * 1000)
    clock = FixedClock(datetime(2026, 3, 2, 17, 30, tzinfo=UTC))
    await processor(pool, schema, remember, clock=clock).process([record(0, backdated)])
    await processor(pool, schema, remember, clock=RealClock()).process(
        [record(1, submitted("C-APPENDED"), timestamp=appended_ms, timestamp_type=1)]
    )
    # A hospital cannot backdate its own receipt; the broker's append time is used on the real clock.
    assert seen == [datetime(2026, 3, 2, 17, 30, tzinfo=UTC), datetime(2026, 3, 2, 16, 59, 30, tzinfo=UTC)]


class LocksFirst:
    """A handler whose batch hook fails for good (as a hostile value could make it): events still apply."""

    async def before_batch(self, tx: Tx, events: list[Envelope]) -> None:
        await tx.conn.execute("SELECT 1/0")

    async def __call__(self, tx: Tx, event: Envelope) -> None:
        await record_effect(tx, event)


async def test_a_failing_batch_hook_never_keeps_the_batch_from_being_applied(pool: asyncpg.Pool, schema: str) -> None:
    result = await processor(pool, schema, LocksFirst()).process(
        [record(0, submitted("C-H1")), record(1, submitted("C-H2"))]
    )
    assert (result.applied, result.dead_letters) == (2, 0)
    assert sorted(await effects(pool)) == ["C-H1", "C-H2"]
