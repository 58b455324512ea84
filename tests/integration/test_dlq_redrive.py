"""A dead letter caused by a bug that is then fixed: `claimsctl dlq redrive` applies it exactly once.

Real broker, real database, the real kernel consumer and the real `claimsctl` process: a handler
with a bug dead-letters two events while the ones around them apply; the bug is fixed (a new
release: the service restarts with the fixed handler); meanwhile the hospital resends one of
them; then the operator redrives the topic. Each event is applied exactly once, a second redrive
republishes nothing, and a dry run publishes nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from deploy.local import Stack
from shared import metrics
from shared.consumer import Handler
from shared.events import Envelope, encode_event
from shared.outbox import Tx
from shared.runtime import ServiceRuntime
from shared.settings import BrokerSettings, DatabaseSettings, ServiceSettings, Settings
from tests.support.applier import make_spec, record_effect
from tests.support.factories import submitted
from tests.support.kafka import eventually, make_topics, produce, read_all

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
TOPIC = "claims.test-redrive"  # the contract name; on the broker it carries this test's prefix


def settings_for(stack: Stack, prefix: str, **broker: Any) -> Settings:
    return Settings(
        broker=BrokerSettings(
            bootstrap_servers=stack.bootstrap_servers,
            topic_prefix=prefix,
            session_timeout_ms=6000,
            max_batch=100,
            **broker,
        ),
        database=DatabaseSettings(database_url=stack.database_url),
        service=ServiceSettings(retry_base_delay_s=0.01),
    )


@asynccontextmanager
async def running(
    stack: Stack, schema: str, prefix: str, handler: Handler, **broker: Any
) -> AsyncIterator[ServiceRuntime]:
    runtime = ServiceRuntime(make_spec(schema, TOPIC, handler), settings_for(stack, prefix, **broker))
    await runtime.start()
    await runtime.broker.start()
    try:
        yield runtime
    finally:
        await runtime.broker.stop()
        await runtime.stop()


async def buggy(tx: Tx, event: Envelope) -> None:
    """Release 1: refuses claims whose id starts with C-BUG (the bug), after writing its effect."""
    await record_effect(tx, event)
    if (event.claim_id or "").startswith("C-BUG"):
        raise ValueError("release 1 cannot handle this claim")


async def claimsctl(stack: Stack, prefix: str, *args: str) -> tuple[int, str]:
    """Run the real CLI as an operator would, against this test's broker, database and prefix."""
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap_servers, "DATABASE_URL": stack.database_url,
           "KAFKA_TOPIC_PREFIX": prefix, "SERVICE_LOG_LEVEL": "WARNING"}  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "shared.cli", *args, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode() + err.decode()


def summary(output: str) -> dict[str, Any]:
    """The JSON summary line `dlq redrive` ends with."""
    found: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return found


async def effects(pool: asyncpg.Pool, event: Envelope) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM effects WHERE event_id = $1", event.event_id))


async def covered(stack: Stack, group: str, topic: str, end: int) -> bool:
    """The group has committed past offset `end - 1` of partition 0 (it applied or skipped everything)."""
    tp = TopicPartition(topic, 0)
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.bootstrap_servers)
    await admin.start()
    try:  # name the partition: the local broker closes the connection when asked for "all of them"
        done = await admin.list_consumer_group_offsets(group, partitions=[tp])
    finally:
        await admin.close()
    return tp in done and done[tp].offset >= end


async def test_a_dead_letter_from_a_fixed_bug_is_redriven_and_applied_exactly_once(
    stack: Stack, pool: asyncpg.Pool, schema: str
) -> None:
    prefix = f"{schema}."
    source, dlq = prefix + TOPIC, prefix + TOPIC + ".dlq"
    group = prefix + f"applier-{schema}"
    await make_topics(stack.bootstrap_servers, source, partitions=1)
    before, x, y, after = submitted(), submitted(claim_id="C-BUG-X"), submitted(claim_id="C-BUG-Y"), submitted()
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap_servers, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(source, encode_event(before), key=before.key.encode())
        # The hospital's own header travels with the event and must survive the redrive.
        await producer.send_and_wait(source, encode_event(x), key=x.key.encode(), headers=[("traceparent", b"00-x")])
        await producer.send_and_wait(source, encode_event(y), key=y.key.encode())
        await producer.send_and_wait(source, encode_event(after), key=after.key.encode())
    finally:
        await producer.stop()

    async with running(stack, schema, prefix, buggy):
        await eventually(lambda: covered(stack, group, source, 4))
        await eventually(lambda: _size(stack, dlq, 2))
    assert [await effects(pool, e) for e in (before, x, y, after)] == [1, 0, 0, 1]  # the bug's effect rolled back

    async with running(stack, schema, prefix, record_effect):  # release 2: the bug is fixed
        # Meanwhile the hospital resends Y (same event): the fixed release applies it.
        await produce(stack.bootstrap_servers, source, [y])
        await eventually(lambda: covered(stack, group, source, 5))
        assert await effects(pool, y) == 1

        code, out = await claimsctl(stack, prefix, "dlq", "redrive", "--topic", TOPIC, "--dry-run", "--by", "ani")
        assert code == 0, out
        assert summary(out)["would-redrive"] == 2 and summary(out)["redriven"] == 0, out
        assert len(await read_all(stack.bootstrap_servers, source)) == 5  # a dry run publishes nothing

        code, out = await claimsctl(stack, prefix, "dlq", "redrive", "--topic", TOPIC, "--by", "ani")
        assert code == 0, out
        assert summary(out)["redriven"] == 2, out
        assert f"{TOPIC}.dlq:0 redriven to {source} (event {x.event_id})" in out
        await eventually(lambda: covered(stack, group, source, 7))  # both republished records consumed
        assert await effects(pool, x) == 1  # the fixed bug's event: applied once
        assert await effects(pool, y) == 1  # applied meanwhile: the inbox skipped the redriven copy
        assert _redriven_applied(f"applier-{schema}") == 1.0  # counted by the consumer: X, not the skipped Y

        code, out = await claimsctl(stack, prefix, "dlq", "redrive", "--topic", TOPIC, "--by", "budi")
        assert code == 0, out
        assert summary(out)["already-redriven"] == 2 and summary(out)["redriven"] == 0, out
        assert f"{TOPIC}.dlq:0 already redriven (event {x.event_id}): by ani at" in out
        assert len(await read_all(stack.bootstrap_servers, source)) == 7  # nothing more republished
        assert _redriven_applied(f"applier-{schema}") == 1.0

    assert [await effects(pool, e) for e in (before, x, y, after)] == [1, 1, 1, 1]
    redriven = [r for r in await read_all(stack.bootstrap_servers, source) if "redrive.id" in dict(r.headers)]
    assert [r.value for r in redriven] == [encode_event(x), encode_event(y)]  # the original bytes ...
    assert [r.key for r in redriven] == [b"C-BUG-X", b"C-BUG-Y"]  # ... and keys
    headers = dict(redriven[0].headers)
    assert headers["traceparent"] == b"00-x"
    assert headers["redrive.by"] == b"ani" and headers["redrive.dlq.offset"] == b"0"
    assert not [k for k, _ in redriven[0].headers if k.startswith("dlq.")]
    audit = await pool.fetch(
        "SELECT dlq_offset, event_id, redriven_by, dry_run FROM ops.dlq_redrives WHERE dlq_topic = $1"
        " ORDER BY dry_run DESC, dlq_offset",
        dlq,
    )
    assert [tuple(r) for r in audit] == [
        (0, x.event_id, "ani", True), (1, y.event_id, "ani", True),
        (0, x.event_id, "ani", False), (1, y.event_id, "ani", False),
    ]  # fmt: skip
    assert headers["redrive.id"] == str(await _redrive_id(pool, dlq)).encode()


async def test_a_dead_letter_too_large_for_its_dlq_is_redriven_from_postgresql(
    stack: Stack, pool: asyncpg.Pool, schema: str
) -> None:
    prefix = f"{schema}."
    source, dlq = prefix + TOPIC, prefix + TOPIC + ".dlq"
    group = prefix + f"applier-{schema}"
    await make_topics(stack.bootstrap_servers, source, partitions=1)
    x = submitted(claim_id="C-BUG-BIG")
    trace = b"t" * 15_000  # the original's headers make its dead letter larger than the output limit below
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap_servers, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(source, encode_event(x), key=x.key.encode(), headers=[("trace", trace)])
    finally:
        await producer.stop()
    async with running(stack, schema, prefix, buggy, max_output_bytes=10_000):
        await eventually(lambda: _size(stack, dlq, 1))
    (letter,) = await read_all(stack.bootstrap_servers, dlq)
    assert "dlq.body-ref" in dict(letter.headers) and "trace" not in dict(letter.headers)
    code, out = await claimsctl(stack, prefix, "dlq", "show", f"{TOPIC}.dlq:0")
    assert code == 0 and f"body:          kept in PostgreSQL ({schema}.dead_letter_bodies id 1)" in out, out

    async with running(stack, schema, prefix, record_effect):
        code, out = await claimsctl(stack, prefix, "dlq", "redrive", "--topic", TOPIC, "--by", "ani")
        assert code == 0, out
        assert summary(out)["redriven"] == 1, out
        await eventually(lambda: covered(stack, group, source, 2))
    assert await effects(pool, x) == 1
    (redriven,) = [r for r in await read_all(stack.bootstrap_servers, source) if "redrive.id" in dict(r.headers)]
    assert redriven.value == encode_event(x) and redriven.key == b"C-BUG-BIG"
    assert dict(redriven.headers)["trace"] == trace  # the original headers, kept in PostgreSQL with the body


async def test_dlq_list_and_show_escape_what_the_sender_wrote(stack: Stack, schema: str) -> None:
    prefix = f"{schema}."
    topic = "claims.disputed"  # a contract topic: `dlq list` without --topic reads every contract DLQ
    dlq = prefix + topic + ".dlq"
    await make_topics(stack.bootstrap_servers, prefix + topic, partitions=1)
    event_id = uuid.uuid4()
    body = json.dumps({"event_id": str(event_id)}).encode()
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap_servers, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            dlq, body, key=b"C-\x00\xff",
            headers=[("trace\x00id", b"\x00\xff\xfe"), ("note", b"\x1b[31mred"), ("dlq.error", b"handler-error"),
                     ("dlq.reason", b"ValueError: boom\nsecond line"), ("dlq.consumer", b"grouper"),
                     ("dlq.source.topic", topic.encode()), ("dlq.source.partition", b"0"),
                     ("dlq.source.offset", b"7")],
        )  # fmt: skip
        # A record written straight onto the DLQ, claiming to come from the payments command topic.
        await producer.send_and_wait(dlq, b"{}", key=b"RUN-1", headers=[("dlq.source.topic", b"payments.commands")])
    finally:
        await producer.stop()

    code, out = await claimsctl(stack, prefix, "dlq", "list")
    assert code == 0, out
    (line,) = [ln for ln in out.splitlines() if ln.startswith(f"{topic}.dlq:0")]
    assert f"{topic}/0/7" in line and "grouper" in line and "handler-error" in line and str(event_id) in line
    assert "ValueError: boom\\x0asecond line" in line  # one line per letter, whatever the reason holds

    code, out = await claimsctl(stack, prefix, "dlq", "show", f"{topic}.dlq:0")
    assert code == 0, out
    assert "key:           C-\\x00\\xff" in out
    assert "  trace\\x00id = \\x00\\xff\\xfe" in out
    assert "\\x1b[31mred" in out and "\x1b" not in out  # no escape sequence reaches the terminal

    code, out = await claimsctl(stack, prefix, "dlq", "list", "--topic", topic, "--error", "schema")
    assert code == 0 and "no dead letters match" in out
    code, out = await claimsctl(stack, prefix, "dlq", "show", f"{topic}.dlq:5")
    assert code == 1 and f"no dead letter {topic}.dlq:5" in out

    # A header never chooses where an operator's redrive publishes: the forged letter is skipped.
    code, out = await claimsctl(stack, prefix, "dlq", "redrive", "--topic", topic, "--offset", "1", "--by", "ani")
    assert code == 0 and summary(out)["skipped"] == 1 and summary(out)["redriven"] == 0, out
    assert "dlq.source.topic 'payments.commands' is not 'claims.disputed'" in out


def _redriven_applied(consumer: str) -> float | None:
    return metrics.registry.get_sample_value("dlq_redriven_applied_total", {"consumer": consumer})


async def _size(stack: Stack, topic: str, n: int) -> bool:
    return len(await read_all(stack.bootstrap_servers, topic)) >= n


async def _redrive_id(pool: asyncpg.Pool, dlq: str) -> uuid.UUID:
    found: uuid.UUID = await pool.fetchval(
        "SELECT DISTINCT redrive_id FROM ops.dlq_redrives WHERE dlq_topic = $1 AND NOT dry_run", dlq
    )
    return found


async def test_claimsctl_migrate_creates_the_audit_schema_once(stack: Stack) -> None:
    from shared.dlq import apply_audit_migrations

    await apply_audit_migrations(stack.database_url)  # first use, here or by an earlier test
    assert await apply_audit_migrations(stack.database_url) == []  # nothing left to apply
    conn = await asyncpg.connect(stack.database_url)
    try:
        assert await conn.fetchval("SELECT to_regclass('ops.dlq_redrives') IS NOT NULL")
    finally:
        await conn.close()


async def test_dead_letters_published_in_one_batch_are_all_read(stack: Stack, schema: str) -> None:
    from shared.dlq import read_letters

    prefix = f"{schema}."
    await make_topics(stack.bootstrap_servers, prefix + TOPIC, partitions=1)
    # One produce request, one record batch (as the relay publishes several dead letters of one transaction).
    await produce(stack.bootstrap_servers, prefix + TOPIC + ".dlq", [(b"C-1", b"first"), (b"C-2", b"second")])
    letters = await read_letters(stack.bootstrap_servers, prefix, [TOPIC])
    assert [(x.id, x.value) for x in letters] == [(f"{TOPIC}.dlq:0", b"first"), (f"{TOPIC}.dlq:1", b"second")]
