"""A header NAME that is not UTF-8 (Java and librdkafka producers can write one) stalls no consumer.

aiokafka alone raised UnicodeDecodeError on every fetch of such a record, so its partition never moved.
Here the kernel, claimsctl's topic reader and the notifier's DLQ watcher each read past it, on the real
broker and PostgreSQL: the record after it is handled, the bad one is dead-lettered once with its original
bytes and its header name escaped, so the relay can publish the dead letter.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.producer import message_accumulator, producer
from aiokafka.record.default_records import _DefaultRecordBatchBuilderPy

from deploy.local import Stack
from shared.events import Envelope, encode_event
from shared.kafka_read import read_topic
from shared.runtime import ServiceRuntime
from shared.settings import BrokerSettings, DatabaseSettings, ServiceSettings, Settings
from shared.topics import dlq_topic
from tests.integration.notifier.notifier_support import Notifier, notifier_settings
from tests.support.applier import make_spec
from tests.support.factories import submitted
from tests.support.kafka import consumed_all, eventually, make_topics

pytestmark = pytest.mark.integration

Header = tuple[str, bytes]
RAW_NAME = b"\xff\xfe-name"  # not UTF-8: 0xff never starts a character


class RawName(str):
    """A header name whose bytes on the wire are RAW_NAME (aiokafka's Python builder sends `name.encode()`)."""

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return RAW_NAME


ODD = RawName("odd")


async def publish(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, topic: str, records: Sequence[tuple[bytes, bytes, list[Header]]]
) -> None:
    """Send (key, value, headers) in order to partition 0, in one batch, with the odd name's raw bytes."""
    # The compiled builder encodes names itself; the Python one asks the name, which RawName answers.
    monkeypatch.setattr(message_accumulator, "DefaultRecordBatchBuilder", _DefaultRecordBatchBuilderPy)
    monkeypatch.setattr(producer, "DefaultRecordBatchBuilder", _DefaultRecordBatchBuilderPy)
    sender = AIOKafkaProducer(bootstrap_servers=stack.bootstrap_servers, acks="all", linger_ms=200)
    await sender.start()
    try:
        sent = [
            await sender.send(topic, value, key=key, headers=headers, partition=0) for key, value, headers in records
        ]
        await sender.flush()
        offsets = [(await fut).offset for fut in sent]
    finally:
        await sender.stop()
        monkeypatch.undo()
    assert offsets == list(range(len(records)))  # on the broker, in order


def event(ev: Envelope, headers: list[Header] | None = None) -> tuple[bytes, bytes, list[Header]]:
    return ev.key.encode(), encode_event(ev), headers or []


def settings_for(stack: Stack) -> Settings:
    return Settings(
        broker=BrokerSettings(bootstrap_servers=stack.bootstrap_servers, session_timeout_ms=6000, max_batch=100),
        database=DatabaseSettings(database_url=stack.database_url),
        service=ServiceSettings(retry_base_delay_s=0.01),
    )


@asynccontextmanager
async def kernel(stack: Stack, schema: str, topic: str) -> AsyncIterator[ServiceRuntime]:
    """The kernel as services run it: FastStream batch subscriber, manual commit, outbox relay."""
    runtime = ServiceRuntime(make_spec(schema, topic), settings_for(stack))
    await runtime.start()
    await runtime.broker.start()
    try:
        yield runtime
    finally:
        await runtime.broker.stop()
        await runtime.stop()


@pytest.fixture
def topic() -> str:
    return f"test.{uuid.uuid4().hex[:8]}"


async def test_the_kernel_dead_letters_the_record_once_and_applies_the_events_after_it(
    stack: Stack, pool: asyncpg.Pool, schema: str, topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_topics(stack.bootstrap_servers, topic, partitions=1)
    before, carried, after_1, after_2 = (submitted(c) for c in ("C-BEFORE", "C-CARRIED", "C-AFTER-1", "C-AFTER-2"))
    junk = b"\xff\xfe not an event"
    await publish(stack, monkeypatch, topic, [
        event(before),
        (b"C-BAD", junk, [(ODD, b"v"), ("trace", b"t")]),
        event(carried, [(ODD, b"w")]),  # a valid event is applied whatever its header names
        event(after_1),
        event(after_2),
    ])  # fmt: skip

    async with kernel(stack, schema, topic):
        await eventually(lambda: consumed_all(stack.bootstrap_servers, f"applier-{schema}", [topic]))
        await eventually(lambda: _published(pool))  # the relay sent the dead letter, it did not stall on it
        letters = await read_topic(stack.bootstrap_servers, dlq_topic(topic))

    applied = [r["claim_id"] for r in await pool.fetch("SELECT claim_id FROM effects ORDER BY applied_at")]
    assert sorted(applied) == ["C-AFTER-1", "C-AFTER-2", "C-BEFORE", "C-CARRIED"]  # each once
    assert len(letters) == 1
    (letter,) = letters
    assert (letter.key, letter.value) == (b"C-BAD", junk)
    headers = dict(letter.headers)
    assert headers["\\xff\\xfe-name"] == b"v"  # the name's bytes, written as text
    assert headers["trace"] == b"t"
    assert headers["dlq.headers-escaped"] == b"1"
    assert headers["dlq.error"] == b"schema"
    assert headers["dlq.source.offset"] == b"1"
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE failed_at IS NOT NULL") == 0  # none quarantined


async def test_read_topic_returns_the_record_with_its_header_name_bytes_and_the_one_after_it(
    stack: Stack, topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_topics(stack.bootstrap_servers, topic, partitions=1)
    await publish(stack, monkeypatch, topic, [(b"C-1", b"first", [(ODD, b"v")]), (b"C-2", b"second", [])])

    records = await read_topic(stack.bootstrap_servers, topic)

    assert [(r.offset, r.value) for r in records] == [(0, b"first"), (1, b"second")]
    ((name, value),) = records[0].headers
    assert name.encode("utf-8", "surrogateescape") == RAW_NAME  # lossless
    assert value == b"v"


async def test_the_notifier_dlq_watcher_records_the_record_and_the_one_after_it(
    stack: Stack, schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    notifier = Notifier(stack, schema, notifier_settings())
    await notifier.create_topics()
    dlq = notifier.topic("claims.submitted.dlq")
    await publish(stack, monkeypatch, dlq, [
        (b"C-ODD", b"{}", [(ODD, b"v"), ("dlq.error", b"schema"), ("dlq.consumer", b"grouper")]),
        (b"C-NEXT", b"{}", [("dlq.error", b"handler-error"), ("dlq.consumer", b"grouper")]),
    ])  # fmt: skip

    async with notifier.running() as runtime:
        assert runtime.ctx is not None
        seen = runtime.ctx.pool
        await eventually(lambda: _arrivals(seen, 2))
        rows = await seen.fetch("SELECT record_key, error, consumer FROM dlq_arrivals ORDER BY record_offset")

    assert [tuple(r) for r in rows] == [("C-ODD", "schema", "grouper"), ("C-NEXT", "handler-error", "grouper")]


async def _published(pool: asyncpg.Pool) -> bool:
    rows = await pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL AND topic LIKE '%.dlq'")
    return int(rows) >= 1


async def _arrivals(pool: asyncpg.Pool, n: int) -> bool:
    return int(await pool.fetchval("SELECT count(*) FROM dlq_arrivals")) >= n
