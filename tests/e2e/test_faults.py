"""Faults on the real stack, services as real processes: each run must end like a clean one.

Every test drives the same flow (members, claims in waves, one payment run) while something
breaks, then checks: every claim verified once, paid once, one `claims.paid` per payment, and
no dead letters.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

from deploy.local import Stack
from services.simulator.scenario import Kind, claim_for, hospital_code, member_for
from shared.events import (
    ClaimSubmitted,
    ClaimSubmittedPayload,
    Envelope,
    ParticipantChanged,
    PaymentRunRequested,
    PaymentRunRequestedPayload,
    parse_event,
)
from shared.kafka_read import read_topic
from shared.topics import EVENT_TOPICS, dlq_topic
from tests.support.cluster import Cluster, new_cluster, pause, restart_postgres, resume
from tests.support.kafka import produce

pytestmark = pytest.mark.e2e

CLAIMS = 300
SERVICES = ("grouper", "verifier", "payments")
TODAY = date(2026, 3, 2)


@pytest.fixture
async def cluster(stack: Stack) -> AsyncIterator[Cluster]:
    c = await new_cluster(stack, "2026-03-02T03:00:00+00:00")  # 10:00 in Jakarta
    try:
        yield c
    finally:
        c.stop_all()


def workload(n: int) -> tuple[list[ParticipantChanged], list[ClaimSubmitted]]:
    """n members and one clean claim each, from four hospitals."""
    rng = random.Random(n)
    members, claims = [], []
    now = datetime.now(UTC)
    for i in range(n):
        kode_rs = hospital_code(i % 4)
        card = f"{2000000000000 + i:013d}"
        sep = f"{kode_rs}0326V{i:06d}"
        members.append(
            ParticipantChanged(
                occurred_at=now,
                correlation_id=uuid.uuid4(),
                producer="membership",
                payload=member_for(card, i, inactive=False),
            )
        )
        claim = claim_for(rng, kode_rs, card, sep, TODAY - timedelta(days=3), Kind.CLEAN)
        claims.append(
            ClaimSubmitted(
                occurred_at=now,
                claim_id=f"F-{i:05d}",
                correlation_id=uuid.uuid4(),
                producer=f"hospital:{kode_rs}",
                payload=ClaimSubmittedPayload(revision=0, claim=claim),
            )
        )
    return members, claims


async def publish(cluster: Cluster, events: list[Envelope]) -> None:
    by_topic: dict[str, list[Envelope]] = {}
    for e in events:
        by_topic.setdefault(e.topic, []).append(e)
    for topic, items in by_topic.items():
        await produce(cluster.stack.bootstrap_servers, cluster.prefix + topic, items)


async def count(cluster: Cluster, sql: str, schema: str) -> int:
    """A count from one service's schema; 0 while the schema or the database is not there (yet)."""
    try:
        conn = await asyncpg.connect(cluster.database_url, server_settings={"search_path": schema}, timeout=2)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return -1
    try:
        return int(await conn.fetchval(sql))
    except asyncpg.PostgresError:
        return -1
    finally:
        await conn.close()


async def until(check: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"not within {within} s: {what}")


async def at_least(cluster: Cluster, schema: str, sql: str, n: int, within: float = 120) -> None:
    async def check() -> bool:
        return await count(cluster, sql, schema) >= n

    await until(check, within, f"{schema}: {sql} >= {n}")


async def flow(cluster: Cluster, fault: Callable[[str], Awaitable[None]]) -> None:
    """Members, three waves of claims, a payment run; `fault(step)` is called between the steps."""
    members, claims = workload(CLAIMS)
    await publish(cluster, list(members))
    await at_least(cluster, "verifier", "SELECT count(*) FROM participants", CLAIMS)
    third = CLAIMS // 3
    for wave in range(3):
        await publish(cluster, list(claims[wave * third : (wave + 1) * third if wave < 2 else CLAIMS]))
        await fault(f"wave-{wave}")
    await at_least(cluster, "payments", "SELECT count(*) FROM payables", CLAIMS, within=180)
    run = PaymentRunRequested(
        occurred_at=datetime.now(UTC), correlation_id=uuid.uuid4(), producer="finance",
        payload=PaymentRunRequestedPayload(run_id="FAULT-RUN", funds=10**13, requested_by="test"),
    )  # fmt: skip
    await publish(cluster, [run])
    await fault("run")
    await at_least(cluster, "payments", "SELECT count(*) FROM payments", CLAIMS, within=180)
    for schema in SERVICES:  # everything written has been published
        await at_least(cluster, schema, "SELECT count(*) = 0 FROM outbox WHERE sent_at IS NULL", 1)
    await publish(cluster, [run.model_copy(update={"event_id": uuid.uuid4()})])  # the same run id, again


async def assert_clean_outcome(cluster: Cluster) -> None:
    """Every claim verified once and paid once, finance sees one payment per claim, no dead letters."""
    assert await count(cluster, "SELECT count(*) FROM claims WHERE state = 'verified'", "verifier") == CLAIMS
    assert await count(cluster, "SELECT count(*) FROM payables", "payments") == CLAIMS
    assert await count(cluster, "SELECT count(*) FROM payments", "payments") == CLAIMS
    bootstrap = cluster.stack.bootstrap_servers
    for topic in ("claims.verified", "claims.paid"):
        events = [parse_event(r.value) for r in await read_topic(bootstrap, cluster.prefix + topic)]
        # A relay killed between the broker's ack and its mark republishes the same event (same id):
        # consumers dedupe by event_id. What must never happen is a second, different event.
        ids_per_claim: dict[str, set[uuid.UUID]] = {}
        for e in events:
            assert e.claim_id is not None
            ids_per_claim.setdefault(e.claim_id, set()).add(e.event_id)
        assert len(ids_per_claim) == CLAIMS, topic
        assert all(len(ids) == 1 for ids in ids_per_claim.values()), f"{topic}: a claim got two different events"
    for t in EVENT_TOPICS:
        assert await read_topic(bootstrap, cluster.prefix + dlq_topic(t.name)) == [], dlq_topic(t.name)


def start_all(cluster: Cluster, instances: int = 1) -> None:
    for name in SERVICES:
        for _ in range(instances):
            cluster.start(name)


async def test_sigkill_each_service_in_turn_mid_run(cluster: Cluster) -> None:
    start_all(cluster)
    victims = {"wave-0": "grouper", "wave-1": "verifier", "run": "payments"}

    async def fault(step: str) -> None:
        name = victims.get(step)
        if name is None:
            return
        schema, table = {"grouper": ("grouper", "groupings"), "verifier": ("verifier", "claims"),
                         "payments": ("payments", "payments")}[name]  # fmt: skip
        before = await count(cluster, f"SELECT count(*) FROM {table}", schema)
        await at_least(cluster, schema, f"SELECT count(*) FROM {table}", before + 1)  # it is mid-work
        cluster.kill(name)
        cluster.start(name)

    await flow(cluster, fault)
    assert cluster.alive()
    await assert_clean_outcome(cluster)


async def test_postgresql_restarted_mid_run(cluster: Cluster, stack: Stack) -> None:
    start_all(cluster)

    async def fault(step: str) -> None:
        if step == "wave-1":
            await at_least(cluster, "verifier", "SELECT count(*) FROM claims", 1)
            restart_postgres(stack)

    await flow(cluster, fault)
    assert cluster.alive()
    await assert_clean_outcome(cluster)


async def test_broker_paused_longer_than_the_session_timeout(cluster: Cluster, stack: Stack) -> None:
    start_all(cluster)
    broker = stack.broker_process
    assert broker is not None, "pausing the broker needs the embedded stack"

    async def fault(step: str) -> None:
        if step == "wave-1":
            pause(broker)
            try:
                await asyncio.sleep(10)  # the outage itself: longer than the 6 s session timeout
            finally:
                resume(broker)

    await flow(cluster, fault)
    assert cluster.alive()
    await assert_clean_outcome(cluster)


async def test_two_instances_of_each_service(cluster: Cluster) -> None:
    start_all(cluster, instances=2)

    async def fault(step: str) -> None:
        return None

    await flow(cluster, fault)
    await assert_clean_outcome(cluster)
