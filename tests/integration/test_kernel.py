"""The reliability kernel against the real broker and database (ENGINEERING.md checklist 1-4, 7)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from deploy.local import Stack
from shared.consumer import Handler
from shared.events import Envelope, encode_event
from shared.outbox import OutboxRelay, OutboxRow, Tx
from shared.runtime import ServiceRuntime
from shared.settings import BrokerSettings, DatabaseSettings, ServiceSettings, Settings
from shared.topics import dlq_topic
from tests.support.applier import make_spec, record_effect
from tests.support.factories import submitted
from tests.support.kafka import consumed_all, eventually, make_topics, produce, read_all

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def settings_for(stack: Stack, **service: object) -> Settings:
    return Settings(
        broker=BrokerSettings(bootstrap_servers=stack.bootstrap_servers, session_timeout_ms=6000, max_batch=100),
        database=DatabaseSettings(database_url=stack.database_url),
        service=ServiceSettings(retry_base_delay_s=0.01, **service),  # type: ignore[arg-type]
    )


@asynccontextmanager
async def running(
    stack: Stack, schema: str, topic: str, handler: Handler = record_effect, **service: object
) -> AsyncIterator[ServiceRuntime]:
    """The kernel as services run it: migrations, relay, a FastStream batch consumer with manual commit."""
    runtime = ServiceRuntime(make_spec(schema, topic, handler), settings_for(stack, **service))
    runtime.redelivery_backoff_s = (0.05, 1.0)  # the same doubling as production's 0.5 s → 30 s, shorter
    await runtime.start()
    await runtime.broker.start()
    try:
        yield runtime
    finally:
        await runtime.broker.stop()
        await runtime.stop()


async def count(pool: asyncpg.Pool, sql: str, *args: object) -> int:
    value = await pool.fetchval(sql, *args)
    return int(value)


async def consumed(stack: Stack, schema: str, topic: str) -> bool:
    """The applier committed past every record on `topic`: duplicates included, all were handled."""
    return await consumed_all(stack.bootstrap_servers, f"applier-{schema}", [topic])


@pytest.fixture
def topic() -> str:
    return f"test.{uuid.uuid4().hex[:8]}"


async def test_a_failed_transaction_writes_neither_state_nor_event(pool: asyncpg.Pool, schema: str) -> None:
    event = submitted()
    with pytest.raises(RuntimeError):
        async with pool.acquire() as conn, conn.transaction():
            tx = Tx(conn, schema)
            await record_effect(tx, event)
            tx.emit(event)
            await tx.flush()
            raise RuntimeError("the handler failed after writing")
    assert await count(pool, "SELECT count(*) FROM effects") == 0
    assert await count(pool, "SELECT count(*) FROM outbox") == 0


async def test_relay_crash_after_publish_republishes_and_the_consumer_applies_once(
    stack: Stack, pool: asyncpg.Pool, schema: str, topic: str
) -> None:
    await make_topics(stack.bootstrap_servers, topic)
    event = submitted()
    async with pool.acquire() as conn, conn.transaction():
        tx = Tx(conn, schema)
        tx.emit_row(OutboxRow(topic, event.key.encode(), encode_event(event), (), str(event.event_id)))
        await tx.flush()

    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap_servers, acks="all")
    await producer.start()
    try:

        def crash(_ids: list[int]) -> None:
            raise SystemExit("relay killed after the broker acked, before marking sent")

        crashing = OutboxRelay(stack.database_url, schema, producer, after_publish=crash)
        async with pool.acquire() as conn:
            with pytest.raises(SystemExit):
                await crashing.publish_once(conn)
        assert await count(pool, "SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 1
        assert len(await read_all(stack.bootstrap_servers, topic)) == 1

        restarted = OutboxRelay(stack.database_url, schema, producer)
        async with pool.acquire() as conn:
            assert await restarted.publish_once(conn) == 1
        assert await count(pool, "SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0
    finally:
        await producer.stop()
    assert len(await read_all(stack.bootstrap_servers, topic)) == 2  # published twice ...

    async with running(stack, schema, topic):
        await eventually(lambda: consumed(stack, schema, topic))  # both copies handled, not just the first
    assert await count(pool, "SELECT count(*) FROM effects") == 1  # ... applied once


async def test_the_same_event_at_a_new_offset_has_one_effect(
    stack: Stack, pool: asyncpg.Pool, schema: str, topic: str
) -> None:
    await make_topics(stack.bootstrap_servers, topic)
    event, other = submitted(), submitted()
    await produce(stack.bootstrap_servers, topic, [event, event, other])
    async with running(stack, schema, topic):
        await eventually(lambda: count(pool, "SELECT count(*) FROM effects WHERE event_id = $1", other.event_id))
        await produce(stack.bootstrap_servers, topic, [event])  # a later redelivery, new offset
        last = submitted()
        await produce(stack.bootstrap_servers, topic, [last])
        # `last` may sit on another partition than the redelivery: wait for the commits past both.
        await eventually(lambda: consumed(stack, schema, topic))
    assert await count(pool, "SELECT count(*) FROM effects WHERE event_id = $1", event.event_id) == 1
    assert await count(pool, "SELECT count(*) FROM effects") == 3


async def test_poison_goes_to_the_dlq_with_its_bytes_and_reason_and_the_next_message_is_processed(
    stack: Stack, pool: asyncpg.Pool, schema: str, topic: str
) -> None:
    await make_topics(stack.bootstrap_servers, topic, partitions=1)
    good = submitted()
    invalid = submitted().model_dump(mode="json")
    invalid["payload"]["claim"]["tgl_masuk"] = "not-a-date"
    junk = b"\xff\xfe not json"
    import json

    await produce(
        stack.bootstrap_servers,
        topic,
        [(b"k1", junk), (b"k2", json.dumps(invalid).encode()), good],
    )
    async with running(stack, schema, topic):
        await eventually(lambda: count(pool, "SELECT count(*) FROM effects WHERE event_id = $1", good.event_id))
        await eventually(lambda: _dlq_size(stack, topic, 2))
    letters = await read_all(stack.bootstrap_servers, dlq_topic(topic))
    by_value = {r.value: dict(r.headers) for r in letters}
    assert by_value[junk]["dlq.error"] == b"schema"
    assert by_value[json.dumps(invalid).encode()]["dlq.error"] == b"schema"
    reason = by_value[json.dumps(invalid).encode()]["dlq.reason"].decode()
    assert "payload.claim.tgl_masuk" in reason
    assert by_value[junk]["dlq.source.topic"] == topic.encode()


async def _dlq_size(stack: Stack, topic: str, n: int) -> bool:
    return len(await read_all(stack.bootstrap_servers, dlq_topic(topic))) >= n


async def test_a_handler_bug_on_one_event_dead_letters_only_that_event(
    stack: Stack, pool: asyncpg.Pool, schema: str, topic: str
) -> None:
    await make_topics(stack.bootstrap_servers, topic, partitions=1)
    bad = submitted(claim_id="C-BUG")
    goods = [submitted() for _ in range(5)]

    async def handler(tx: Tx, event: Envelope) -> None:
        await record_effect(tx, event)
        if event.claim_id == "C-BUG":
            raise ValueError("illegal state for this claim")

    await produce(stack.bootstrap_servers, topic, [goods[0], goods[1], bad, *goods[2:]])
    async with running(stack, schema, topic, handler):
        await eventually(lambda: count(pool, "SELECT count(*) FROM effects"), within=30)
        await eventually(lambda: _dlq_size(stack, topic, 1))
        await eventually(lambda: _has(pool, 5))
    assert await count(pool, "SELECT count(*) FROM effects WHERE claim_id = 'C-BUG'") == 0  # its effect undone
    (letter,) = await read_all(stack.bootstrap_servers, dlq_topic(topic))
    assert dict(letter.headers)["dlq.error"] == b"handler-error"
    assert b"illegal state for this claim" in dict(letter.headers)["dlq.reason"]


async def _has(pool: asyncpg.Pool, n: int) -> bool:
    return await count(pool, "SELECT count(*) FROM effects") >= n


async def test_a_transiently_failing_message_is_not_committed_past(
    stack: Stack, pool: asyncpg.Pool, schema: str, topic: str
) -> None:
    await make_topics(stack.bootstrap_servers, topic, partitions=1)
    stuck, after = submitted(), submitted()
    attempts = {"n": 0}

    async def database_down(tx: Tx, event: Envelope) -> None:
        attempts["n"] += 1
        raise ConnectionRefusedError("database unreachable")

    await produce(stack.bootstrap_servers, topic, [stuck, after])
    async with running(stack, schema, topic, database_down, retry_attempts=2):
        await eventually(lambda: _gt(attempts, 6))  # retried, handed back, redelivered, retried ...
    assert await count(pool, "SELECT count(*) FROM effects") == 0
    assert len(await read_all(stack.bootstrap_servers, dlq_topic(topic))) == 0  # transient: not a dead letter

    # A new instance (same group) starts from the last commit: both events are still there to apply.
    async with running(stack, schema, topic):
        await eventually(lambda: _has(pool, 2))
        await eventually(lambda: consumed(stack, schema, topic))
    assert await count(pool, "SELECT count(*) FROM effects WHERE event_id = $1", stuck.event_id) == 1
    assert await count(pool, "SELECT count(*) FROM effects") == 2


async def _gt(box: dict[str, int], n: int) -> bool:
    return box["n"] > n


async def test_consumer_killed_with_sigkill_mid_stream_applies_every_event_exactly_once(
    stack: Stack, pool: asyncpg.Pool, schema: str, topic: str
) -> None:
    await make_topics(stack.bootstrap_servers, topic, partitions=3)
    events = [submitted() for _ in range(3000)]
    await produce(stack.bootstrap_servers, topic, events)
    env = {
        **os.environ,
        "APPLIER_SCHEMA": schema,
        "APPLIER_TOPIC": topic,
        "KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap_servers,
        "DATABASE_URL": stack.database_url,
        "KAFKA_MAX_BATCH": "50",
        "KAFKA_SESSION_TIMEOUT_MS": "6000",
        "SERVICE_HTTP_PORT": "0",
        "SERVICE_LOG_LEVEL": "WARNING",
    }
    start: Callable[[], subprocess.Popen[bytes]] = lambda: subprocess.Popen(  # noqa: E731
        [sys.executable, "-m", "tests.support.applier"], cwd=ROOT, env=env
    )
    first = start()
    try:
        await eventually(lambda: _has(pool, 300), within=60)
        first.send_signal(signal.SIGKILL)
        first.wait()
        killed_at = await count(pool, "SELECT count(*) FROM effects")
        assert killed_at < 3000, "the kill came too late to test anything"
    finally:
        if first.poll() is None:
            first.kill()
    second = start()
    try:
        await eventually(lambda: _has(pool, 3000), within=90)
        # The records redelivered after the kill are handled once the group has committed past them all.
        await eventually(lambda: consumed(stack, schema, topic), within=30)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    assert await count(pool, "SELECT count(*) FROM effects") == 3000
    assert await count(pool, "SELECT count(DISTINCT event_id) FROM effects") == 3000


async def test_catch_up_after_downtime(stack: Stack, pool: asyncpg.Pool, schema: str, topic: str) -> None:
    """A service stopped while 1,000 events arrive applies all of them once after restart."""
    await make_topics(stack.bootstrap_servers, topic)
    async with running(stack, schema, topic):
        first = submitted()
        await produce(stack.bootstrap_servers, topic, [first])
        await eventually(lambda: _has(pool, 1))
    await produce(stack.bootstrap_servers, topic, [submitted() for _ in range(1000)])
    async with running(stack, schema, topic):
        await eventually(lambda: _has(pool, 1001), within=60)
        await eventually(lambda: consumed(stack, schema, topic))
    assert await count(pool, "SELECT count(DISTINCT event_id) FROM effects") == 1001
    assert await count(pool, "SELECT count(*) FROM effects") == 1001


def test_sigterm_stops_the_service_gracefully(stack: Stack, schema: str, topic: str) -> None:
    asyncio.run(make_topics(stack.bootstrap_servers, topic))
    env = {
        **os.environ,
        "APPLIER_SCHEMA": schema,
        "APPLIER_TOPIC": topic,
        "KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap_servers,
        "DATABASE_URL": stack.database_url,
        "SERVICE_HTTP_PORT": "0",
        "SERVICE_SHUTDOWN_TIMEOUT_S": "10",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.applier"], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if "service started" in line:
                break
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    # uvicorn re-raises the captured SIGTERM once shutdown is complete, so the exit status is -15.
    assert proc.returncode in (0, -signal.SIGTERM)
    assert "service stopped" in rest, rest[-2000:]


async def test_binary_headers_and_a_wrong_key_go_to_the_dlq_without_stopping_the_consumer(
    stack: Stack, pool: asyncpg.Pool, schema: str, topic: str
) -> None:
    await make_topics(stack.bootstrap_servers, topic, partitions=1)
    good, misrouted = submitted(), submitted()
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap_servers, acks="all")
    await producer.start()
    try:
        # Junk carrying a header with NUL and non-UTF-8 bytes (kept verbatim on the dead letter).
        await producer.send_and_wait(topic, b"\x00junk", key=b"k", headers=[("trace\x00id", b"\x00\xff\xfe")])
        # A valid event keyed by something other than its claim id: its ordering could not be kept.
        await producer.send_and_wait(topic, encode_event(misrouted), key=b"not-the-claim-id")
        await producer.send_and_wait(topic, encode_event(good), key=good.key.encode())
    finally:
        await producer.stop()
    async with running(stack, schema, topic):
        await eventually(lambda: count(pool, "SELECT count(*) FROM effects WHERE event_id = $1", good.event_id))
        await eventually(lambda: _dlq_size(stack, topic, 2))
    junk, wrong_key = await read_all(stack.bootstrap_servers, dlq_topic(topic))
    assert dict(junk.headers)["trace\x00id"] == b"\x00\xff\xfe"
    assert dict(junk.headers)["dlq.error"] == b"schema"
    assert dict(wrong_key.headers)["dlq.error"] == b"wrong-key"
    assert misrouted.key.encode() in dict(wrong_key.headers)["dlq.reason"]
    assert await count(pool, "SELECT count(*) FROM effects WHERE event_id = $1", misrouted.event_id) == 0


async def test_housekeeping_forgets_only_what_can_no_longer_matter(pool: asyncpg.Pool) -> None:
    from shared.inbox import purge_older_than
    from shared.outbox import purge_sent

    await pool.execute(
        """INSERT INTO outbox (topic, value, sent_at) VALUES
           ('t', 'old-sent', now() - interval '8 days'), ('t', 'new-sent', now()), ('t', 'unsent', NULL)"""
    )
    old, new = uuid.uuid4(), uuid.uuid4()
    await pool.execute(
        "INSERT INTO inbox (consumer, event_id, topic, received_at) VALUES ('c', $1, 't', now() - interval '121 days'),"
        " ('c', $2, 't', now())",
        old,
        new,
    )
    async with pool.acquire() as conn:
        assert await purge_sent(conn, 7) == 1
        assert await purge_older_than(conn, 120) == 1
    assert {r["value"] for r in await pool.fetch("SELECT value FROM outbox")} == {b"new-sent", b"unsent"}
    assert [r["event_id"] for r in await pool.fetch("SELECT event_id FROM inbox")] == [new]
