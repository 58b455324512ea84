"""`make run`'s PostgreSQL is durable and keeps its data directory; the test suite's is fast and throw-away.

A local stack started on a data directory is stopped and started again on it: the rows are there, the
server runs with fsync and synchronous_commit on, and the outbox rows the old (memory-only) broker held
are published again on the new, empty one by the real relay, in the order they were written.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from deploy.local import Stack, start_stack
from deploy.run import republish_retained_outbox
from shared import db
from shared.outbox import OutboxRelay
from tests.support.kafka import eventually, make_topics, read_all

pytestmark = pytest.mark.integration

SCHEMA = "t_restart"
TOPIC = "test.restart.outbox"
WRITTEN = [b"submitted", b"verified", b"paid"]


@pytest.fixture
def data_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A data directory of its own, and start_stack made to start the embedded stack (not the session's).

    Not pytest's tmp_path: its parents are private to root, and PostgreSQL runs as its own user under root.
    """
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JKN_NO_DOCKER", "1")
    home = Path(tempfile.mkdtemp(prefix="jkn-restart-"))
    os.chmod(home, 0o755)
    try:
        yield home / "pgdata"
    finally:
        shutil.rmtree(home, ignore_errors=True)


@asynccontextmanager
async def durable_stack(data: Path) -> AsyncIterator[Stack]:
    stack = start_stack(topics=False, durable=True, data_dir=data)
    try:
        yield stack
    finally:
        stack.stop()


async def settings(dsn: str) -> tuple[str, str, str]:
    conn = await asyncpg.connect(dsn)
    try:
        return (
            await conn.fetchval("SHOW fsync"),
            await conn.fetchval("SHOW synchronous_commit"),
            await conn.fetchval("SHOW full_page_writes"),
        )
    finally:
        await conn.close()


async def relay_until_sent(stack: Stack, expected_sent: int) -> None:
    """Run the real relay on SCHEMA until `expected_sent` rows are marked published, then stop it."""
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap_servers, acks="all")
    await producer.start()
    relay = OutboxRelay(stack.database_url, SCHEMA, producer, poll_interval_s=0.2)
    relay.start()
    try:
        await eventually(lambda: _sent(stack.database_url, expected_sent))
    finally:
        await relay.stop()
        await producer.stop()


async def _sent(dsn: str, n: int) -> bool:
    conn = await asyncpg.connect(dsn)
    try:
        sent: int = await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.outbox WHERE sent_at IS NOT NULL")
        return sent == n
    finally:
        await conn.close()


async def test_a_restart_on_the_same_directory_keeps_rows_and_publishes_the_outbox_again(data_dir: Path) -> None:
    async with durable_stack(data_dir) as first:
        assert first.reused_data is False
        assert await settings(first.database_url) == ("on", "on", "on")
        await db.migrate(first.database_url, SCHEMA)
        conn = await asyncpg.connect(first.database_url)
        try:
            await conn.execute(f"CREATE TABLE {SCHEMA}.claims (claim_id text PRIMARY KEY, amount bigint)")
            await conn.execute(f"INSERT INTO {SCHEMA}.claims VALUES ('C-0001', 1250000)")
            await conn.executemany(
                f"INSERT INTO {SCHEMA}.outbox (topic, key, value) VALUES ($1, $2, $3)",
                [(TOPIC, b"C-0001", b"submitted"), (TOPIC, b"C-0001", b"verified"), (TOPIC, b"C-0002", b"paid")],
            )
        finally:
            await conn.close()
        await make_topics(first.bootstrap_servers, TOPIC, partitions=1)
        await relay_until_sent(first, 3)
        assert [r.value for r in await read_all(first.bootstrap_servers, TOPIC)] == WRITTEN

    async with durable_stack(data_dir) as second:
        assert second.reused_data is True
        assert await settings(second.database_url) == ("on", "on", "on")
        conn = await asyncpg.connect(second.database_url)
        try:
            assert [tuple(r) for r in await conn.fetch(f"SELECT * FROM {SCHEMA}.claims")] == [("C-0001", 1250000)]
        finally:
            await conn.close()

        await make_topics(second.bootstrap_servers, TOPIC, partitions=1)
        assert await read_all(second.bootstrap_servers, TOPIC) == []  # the new broker lost what the old one held
        marked = await republish_retained_outbox(second.database_url)
        assert marked[SCHEMA] == 3
        await relay_until_sent(second, 3)
        assert [r.value for r in await read_all(second.bootstrap_servers, TOPIC)] == WRITTEN  # in id order


async def test_the_test_suites_server_trades_durability_for_speed(data_dir: Path) -> None:
    # start_stack's defaults, as the suite's session stack uses them, on an embedded server of its own.
    stack = start_stack(topics=False, data_dir=data_dir)
    try:
        assert await settings(stack.database_url) == ("off", "off", "off")
    finally:
        stack.stop()
