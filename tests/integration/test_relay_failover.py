"""The relay leader killed mid-publish: another instance's relay takes over, nothing is lost or applied twice.

Two relay processes on one schema (two service instances); the leader kills itself with SIGKILL after
the broker acknowledged a round and before marking it sent. The standby takes the lock, publishes the
rest and the unmarked round again; a consumer with the inbox applies every event once, each claim's
revisions in the order they were written.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from deploy.local import Stack
from shared import db, outbox
from shared.events import ClaimSubmitted, Envelope, encode_event
from shared.outbox import OutboxRelay, OutboxRow, Tx, write_rows
from shared.runtime import ServiceRuntime
from shared.settings import BrokerSettings, DatabaseSettings, ServiceSettings, Settings
from tests.support.applier import MIGRATIONS, make_spec
from tests.support.factories import submitted
from tests.support.kafka import eventually, make_topics, read_all

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
CLAIMS, REVISIONS = 20, 15


@pytest.fixture
def topic() -> str:
    return f"test.{uuid.uuid4().hex[:8]}"


def revision(claim_id: str, n: int) -> ClaimSubmitted:
    event = submitted(claim_id=claim_id)
    assert isinstance(event, ClaimSubmitted)
    return event.model_copy(update={"payload": event.payload.model_copy(update={"revision": n})})


async def record_revision(tx: Tx, event: Envelope) -> None:
    """The consumer's effect: one row per application, in the order applied (seq)."""
    assert isinstance(event, ClaimSubmitted)
    await tx.conn.execute(
        "INSERT INTO applied (event_id, claim_id, revision) VALUES ($1, $2, $3)",
        event.event_id,
        event.claim_id,
        event.payload.revision,
    )


def start_relay(stack: Stack, schema: str, die_when: Path | None = None) -> subprocess.Popen[bytes]:
    env = {**os.environ, **stack.env(), "RELAY_SCHEMA": schema, "RELAY_BATCH": "20"}
    if die_when is not None:
        env["RELAY_DIE_WHEN"] = str(die_when)
    return subprocess.Popen([sys.executable, "-m", "tests.support.relay_process"], cwd=ROOT, env=env)


async def relay_sessions(pool: asyncpg.Pool, schema: str) -> int:
    return int(
        await pool.fetchval("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", f"relay:{schema}")
    )


async def lock_holders(pool: asyncpg.Pool, schema: str) -> int:
    """Relay sessions of `schema` holding an advisory lock: the leader."""
    return int(
        await pool.fetchval(
            """SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
               WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = $1""",
            f"relay:{schema}",
        )
    )


async def all_sent(pool: asyncpg.Pool) -> bool:
    return bool(await pool.fetchval("SELECT count(*) = $1 FROM outbox WHERE sent_at IS NOT NULL", CLAIMS * REVISIONS))


async def consumed_to_the_end(stack: Stack, topic: str, group: str) -> bool:
    """The consumer group has committed past every record now on the topic (duplicates included)."""
    ends: dict[int, int] = {}
    for r in await read_all(stack.bootstrap_servers, topic):
        ends[r.partition] = max(ends.get(r.partition, 0), r.offset + 1)
    # The group's own coordinator answers (the admin client's offset listing does not decode tansu's reply).
    reader = AIOKafkaConsumer(bootstrap_servers=stack.bootstrap_servers, group_id=group, enable_auto_commit=False)
    await reader.start()
    try:
        committed = {p: await reader.committed(TopicPartition(topic, p)) for p in ends}
    finally:
        await reader.stop()
    return bool(ends) and all((committed[p] or -1) >= end for p, end in ends.items())


async def test_the_relay_leader_killed_mid_publish_hands_over_and_each_event_is_applied_once_in_order(
    stack: Stack, pool: asyncpg.Pool, schema: str, tmp_path: Path
) -> None:
    topic = f"test.{uuid.uuid4().hex[:8]}"
    await make_topics(stack.bootstrap_servers, topic, partitions=3)
    consumer_schema = f"{schema}_consumer"
    await db.migrate(stack.database_url, consumer_schema, MIGRATIONS)
    applier = await db.create_pool(stack.database_url, consumer_schema, max_size=2)
    await applier.execute(
        "CREATE TABLE applied (seq bigserial PRIMARY KEY, event_id uuid NOT NULL, claim_id text, revision int)"
    )
    die = tmp_path / "die"
    leader = start_relay(stack, schema, die_when=die)
    standby: subprocess.Popen[bytes] | None = None
    runtime = ServiceRuntime(
        make_spec(consumer_schema, topic, record_revision),
        Settings(
            broker=BrokerSettings(bootstrap_servers=stack.bootstrap_servers, session_timeout_ms=6000, max_batch=50),
            database=DatabaseSettings(database_url=stack.database_url),
            service=ServiceSettings(retry_base_delay_s=0.01),
        ),
    )
    try:
        await eventually(lambda: lock_holders(pool, schema))  # the first instance leads
        standby = start_relay(stack, schema)
        await eventually(lambda: _sessions_are(pool, schema, 2))  # the second stands by
        await runtime.start()
        await runtime.broker.start()

        claims = [f"C-FAILOVER-{i:02d}" for i in range(CLAIMS)]
        events = [[revision(c, n) for n in range(REVISIONS)] for c in claims]
        for n in range(REVISIONS):
            async with pool.acquire() as conn, conn.transaction():
                await write_rows(conn, schema, [_row(topic, per_claim[n]) for per_claim in events])
            if n == 5:
                die.touch()  # the leader's next acknowledged round is its last

        assert await asyncio.to_thread(leader.wait, 60) == -signal.SIGKILL
        await eventually(lambda: all_sent(pool), within=60)
        assert await lock_holders(pool, schema) == 1  # the standby took the lock ...
        assert await relay_sessions(pool, schema) == 1  # ... and is the only relay left
        assert standby.poll() is None
        await eventually(lambda: consumed_to_the_end(stack, topic, f"applier-{consumer_schema}"), within=60)
    finally:
        await runtime.broker.stop()
        await runtime.stop()
        for proc in (leader, standby):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(10)

    on_topic = [json.loads(r.value)["event_id"] for r in await read_all(stack.bootstrap_servers, topic)]
    written = {str(e.event_id) for per_claim in events for e in per_claim}
    assert set(on_topic) == written  # every event reached the topic ...
    assert len(on_topic) > CLAIMS * REVISIONS  # ... the killed leader's unmarked round twice

    try:
        applied = await applier.fetch("SELECT event_id, claim_id, revision FROM applied ORDER BY seq")
    finally:
        await applier.close()
    assert len(applied) == CLAIMS * REVISIONS
    assert {str(r["event_id"]) for r in applied} == written  # each applied once
    for claim in claims:
        assert [r["revision"] for r in applied if r["claim_id"] == claim] == list(range(REVISIONS)), claim


def _row(topic: str, event: ClaimSubmitted) -> OutboxRow:
    return OutboxRow(topic, event.key.encode(), encode_event(event), (), str(event.event_id))


async def _sessions_are(pool: asyncpg.Pool, schema: str, n: int) -> bool:
    return await relay_sessions(pool, schema) == n


class BlackHole:
    """A TCP path to PostgreSQL that can stop carrying bytes without closing: a half-open connection."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._open = asyncio.Event()
        self._open.set()
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def freeze(self) -> None:
        self._open.clear()

    async def close(self) -> None:
        self._open.set()
        for w in self._writers:
            w.close()
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers += [writer, up_writer]
        await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer), return_exceptions=True)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            await self._open.wait()  # frozen: the bytes are held, both sockets stay open
            writer.write(data)
            await writer.drain()


async def test_a_leader_whose_connection_goes_half_open_loses_the_lock_and_the_standby_leads(
    stack: Stack, pool: asyncpg.Pool, schema: str, topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The documented figures (a minute) shortened to seconds so the test is quick; the mechanism is the same.
    monkeypatch.setitem(outbox.LEADER_SESSION, "idle_session_timeout", "3s")
    monkeypatch.setitem(outbox.LEADER_SESSION, "idle_in_transaction_session_timeout", "3s")
    monkeypatch.setattr(outbox, "COMMAND_TIMEOUT_S", 1.5)
    await make_topics(stack.bootstrap_servers, topic, partitions=1)
    path = BlackHole(int(stack.database_url.rsplit(":", 1)[1].split("/", 1)[0]))
    via_path = stack.database_url.replace(f":{path.target_port}/", f":{await path.start()}/")
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap_servers, acks="all")
    await producer.start()
    leader = OutboxRelay(via_path, schema, producer, poll_interval_s=0.2)
    standby = OutboxRelay(stack.database_url, schema, producer, poll_interval_s=0.2)
    try:
        leader.start()
        await eventually(lambda: _leads(leader))
        standby.start()
        await eventually(lambda: _sessions_are(pool, schema, 2))
        await _write_one(pool, schema, topic, b"before")
        await eventually(lambda: _sent(pool, 1))
        assert not standby.is_leader

        path.freeze()
        await eventually(lambda: _stood_down(leader), within=20)  # its query got no answer
        await eventually(lambda: _leads(standby), within=20)  # the server ended the session: lock free
        await _write_one(pool, schema, topic, b"after")
        await eventually(lambda: _sent(pool, 2))
    finally:
        await standby.stop()
        await leader.stop()
        await producer.stop()
        await path.close()
    assert [r.value for r in await read_all(stack.bootstrap_servers, topic)] == [b"before", b"after"]


async def _leads(relay: OutboxRelay) -> bool:
    return relay.is_leader


async def _stood_down(relay: OutboxRelay) -> bool:
    return not relay.is_leader


async def _write_one(pool: asyncpg.Pool, schema: str, topic: str, value: bytes) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await write_rows(conn, schema, [OutboxRow(topic, b"C-HALF-OPEN", value)])


async def _sent(pool: asyncpg.Pool, n: int) -> bool:
    return int(await pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL")) == n
