"""The relay never stops on one row: what the broker refuses is quarantined, the rest is published.

Against the real broker and database: rows the producer or broker refuse for good (too large, a topic
name Kafka forbids) are set aside with their error, the later rows go out, the metrics say so, and
`claimsctl outbox failed / retry` show and hand back a quarantined row.
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
from aiokafka import AIOKafkaProducer

from deploy.local import Stack
from shared import metrics
from shared.outbox import LEADER_SESSION, OutboxRelay, leader_session
from tests.support.kafka import eventually, make_topics, read_all

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def topic() -> str:
    return f"test.{uuid.uuid4().hex[:8]}"


async def insert_rows(pool: asyncpg.Pool, rows: list[tuple[str, str, bytes]]) -> list[int]:
    """Outbox rows (topic, key, value) as a relay finds them, ids in this order.

    Written with plain SQL on purpose: a row the broker refuses may be in the outbox from before the
    write-time limit, or because the broker's limit is lower than ours, and the relay must cope.
    """
    ids: list[int] = []
    async with pool.acquire() as conn, conn.transaction():
        for t, key, value in rows:
            ids.append(
                await conn.fetchval(
                    "INSERT INTO outbox (topic, key, value) VALUES ($1, $2, $3) RETURNING id", t, key.encode(), value
                )
            )
    return ids


@asynccontextmanager
async def relay_on(stack: Stack, schema: str, **producer: Any) -> AsyncIterator[OutboxRelay]:
    """A relay leading `schema`, with its own producer (keyword arguments go to AIOKafkaProducer)."""
    prod = AIOKafkaProducer(bootstrap_servers=stack.bootstrap_servers, acks="all", **producer)
    await prod.start()
    relay = OutboxRelay(stack.database_url, schema, prod, poll_interval_s=0.2)
    relay.start()
    try:
        yield relay
    finally:
        await relay.stop()
        await prod.stop()


def sample(name: str, schema: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, {"schema": schema, **labels})


async def values_on(stack: Stack, topic: str) -> list[bytes]:
    return [r.value for r in await read_all(stack.bootstrap_servers, topic)]


async def claimsctl(stack: Stack, *args: str) -> tuple[int, str, str]:
    """Run `claimsctl` as an operator would, against the test stack."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "shared.cli", *args, cwd=ROOT,
        env={**os.environ, **stack.env(), "SERVICE_LOG_LEVEL": "WARNING"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def state(pool: asyncpg.Pool, row_id: int) -> dict[str, Any]:
    row = await pool.fetchrow("SELECT sent_at, failed_at, error, attempts FROM outbox WHERE id = $1", row_id)
    assert row is not None
    return dict(row)


async def test_refused_rows_are_quarantined_and_every_later_row_is_published(
    stack: Stack, pool: asyncpg.Pool, schema: str, topic: str
) -> None:
    await make_topics(stack.bootstrap_servers, topic, partitions=1)
    ordinary = [(topic, f"C-{i}", f"ordinary-{i}".encode()) for i in range(10)]
    _, big, bad, held, *_ = await insert_rows(
        pool,
        [
            (topic, "C-first", b"first"),
            (topic, "C-BIG", b"x" * 2_000_000),  # over the producer's 1 MiB max_request_size
            ("bad topic!", "C-BAD", b"to a topic Kafka cannot have"),
            (topic, "C-BIG", b"after-big"),  # the same claim as the refused row: held back, never overtakes it
            *ordinary,
        ],
    )
    async with relay_on(stack, schema):
        await eventually(lambda: _published(pool, 11))
        assert await values_on(stack, topic) == [b"first", *(f"ordinary-{i}".encode() for i in range(10))]

        big_state, bad_state, held_state = await state(pool, big), await state(pool, bad), await state(pool, held)
        assert big_state["sent_at"] is None and big_state["failed_at"] is not None
        assert big_state["error"].startswith("MessageSizeTooLargeError: ")
        assert bad_state["failed_at"] is not None
        assert bad_state["error"].startswith("InvalidTopicError: ") and "'bad topic!'" in bad_state["error"]
        assert (big_state["attempts"], bad_state["attempts"]) == (1, 1)
        assert held_state == {"sent_at": None, "failed_at": None, "error": None, "attempts": 0}

        assert sample("outbox_relay_errors_total", schema, kind="permanent") == 2
        assert sample("outbox_published_total", schema) == 11
        assert sample("outbox_quarantined", schema) == 2
        assert sample("outbox_backlog", schema) == 1  # the held row waits for its predecessor
        age = sample("outbox_oldest_age_seconds", schema)  # the held row has waited since it was written
        assert age is not None and age > 0

        code, out, err = await claimsctl(stack, "outbox", "failed", "--schema", schema)
        assert code == 0, err
        listed = [json.loads(line) for line in out.splitlines()]
        assert [(r["id"], r["topic"], r["key"], r["size"]) for r in listed] == [
            (big, topic, "C-BIG", 2_000_000),
            (bad, "bad topic!", "C-BAD", 28),
        ]
        assert listed[0]["error"].startswith("MessageSizeTooLargeError")
        assert listed[1]["error"].startswith("InvalidTopicError")


async def _published(pool: asyncpg.Pool, n: int) -> bool:
    return int(await pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL")) >= n


async def test_retry_sends_a_quarantined_row_and_then_the_rows_held_behind_it(
    stack: Stack, pool: asyncpg.Pool, schema: str, topic: str
) -> None:
    await make_topics(stack.bootstrap_servers, topic, partitions=1)
    mid, held, big, _ = await insert_rows(
        pool,
        [
            (topic, "C-MID", b"m" * 600_000),
            (topic, "C-MID", b"after-mid"),
            (topic, "C-BIG", b"x" * 2_000_000),
            (topic, "C-OTHER", b"other"),
        ],
    )
    # This deployment's producer allows 256 KiB: the 600 KB row is refused and its claim's next row held.
    async with relay_on(stack, schema, max_request_size=256 * 1024):
        await eventually(lambda: _published(pool, 1))
        assert await values_on(stack, topic) == [b"other"]
        assert (await state(pool, mid))["failed_at"] is not None

    # The operator raises the limit to 1 MiB (a restarted relay), then hands both rows back.
    async with relay_on(stack, schema):
        code, out, err = await claimsctl(stack, "outbox", "retry", str(mid), "--schema", schema, "--by", "ops-ani")
        assert code == 0, err
        assert json.loads(out)["id"] == mid
        await eventually(lambda: _published(pool, 3))
        assert await values_on(stack, topic) == [b"other", b"m" * 600_000, b"after-mid"]  # in order, after it
        retried = await pool.fetchrow("SELECT retried_by, attempts FROM outbox WHERE id = $1", mid)
        assert retried is not None and (retried["retried_by"], retried["attempts"]) == ("ops-ani", 1)

        code, _, err = await claimsctl(stack, "outbox", "retry", str(big), "--schema", schema)
        assert code == 0, err
        await eventually(lambda: _attempts(pool, big, 2))  # still too large for 1 MiB: quarantined again
        assert (await state(pool, big))["failed_at"] is not None
        await eventually(lambda: _gauge(schema, "outbox_backlog", 0))
        assert sample("outbox_quarantined", schema) == 1

    code, _, err = await claimsctl(stack, "outbox", "retry", str(held), "--schema", schema)
    assert code == 1
    assert f"no quarantined outbox row {held}" in err


async def _attempts(pool: asyncpg.Pool, row_id: int, n: int) -> bool:
    return int(await pool.fetchval("SELECT attempts FROM outbox WHERE id = $1", row_id)) >= n


async def _gauge(schema: str, name: str, value: float) -> bool:
    return sample(name, schema) == value


async def test_the_leader_session_keeps_alive_and_times_out_as_documented(stack: Stack, schema: str) -> None:
    conn = await leader_session(stack.database_url, schema)
    try:
        shown = {name: await conn.fetchval(f"SHOW {name}") for name in LEADER_SESSION}
        application = await conn.fetchval("SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()")
    finally:
        await conn.close()
    # What the server itself applies to the relay's socket and statements (SHOW reads the server's values).
    assert shown == {
        "tcp_keepalives_idle": "10",
        "tcp_keepalives_interval": "5",
        "tcp_keepalives_count": "3",
        "tcp_user_timeout": "20000",  # milliseconds
        "statement_timeout": "15s",
        "idle_session_timeout": "1min",
        "idle_in_transaction_session_timeout": "1min",
    }
    assert application == f"relay:{schema}"


async def test_a_row_whose_stored_headers_do_not_decode_is_quarantined_not_retried_forever(
    stack: Stack, pool: asyncpg.Pool, schema: str, topic: str
) -> None:
    await make_topics(stack.bootstrap_servers, topic, partitions=1)
    unreadable = await pool.fetchval(
        """INSERT INTO outbox (topic, key, value, headers) VALUES ($1, 'C-HDR', 'v', '[["not base64!", "x"]]')
           RETURNING id""",
        topic,
    )
    await insert_rows(pool, [(topic, "C-NEXT", b"next")])
    async with relay_on(stack, schema):
        await eventually(lambda: _published(pool, 1))
        assert await values_on(stack, topic) == [b"next"]
        quarantined = await state(pool, unreadable)
        assert quarantined["failed_at"] is not None
        assert quarantined["error"].startswith("UnreadableRow: headers: ")
