"""The delivery table's guarantees, on the real database: one row per (event, subscription), leases, caps."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest

from deploy.local import Stack
from services.notifier.adapters import repository
from services.notifier.application import plan
from services.notifier.domain.model import AttemptResult
from services.notifier.service import MIGRATIONS
from shared import db
from tests.integration.notifier.notifier_support import CLOCK, event, kode_rs, subscribe, webhook

pytestmark = pytest.mark.integration


@pytest.fixture
async def npool(stack: Stack, schema: str) -> AsyncIterator[asyncpg.Pool]:
    await db.migrate(stack.database_url, schema, MIGRATIONS)
    pool = await db.create_pool(stack.database_url, schema, max_size=4)
    try:
        yield pool
    finally:
        await pool.close()


async def plan_events(pool: asyncpg.Pool, schema: str, rs: str, n: int, event_type: str = "ClaimPended") -> None:
    async with pool.acquire() as conn, conn.transaction():
        for _ in range(n):
            await plan(conn, schema, event(event_type, rs), CLOCK.now())


async def claim(pool: asyncpg.Pool, *, limit: int = 100, per_subscription: int = 100, later_s: float = 0) -> list[int]:
    now = CLOCK.now() + timedelta(seconds=later_s)
    found = await repository.claim_due(
        pool, now=now, limit=limit, per_subscription=per_subscription, lease_s=60, token=uuid.uuid4()
    )
    return [d.id for d in found]


async def test_an_event_is_planned_once_per_subscription_however_often_it_arrives(
    npool: asyncpg.Pool, schema: str
) -> None:
    rs = kode_rs()
    await subscribe(npool, webhook(rs, "https://a.example/hook"))
    await subscribe(npool, webhook(rs, "https://b.example/hook", event_types=("ClaimPaid",)))
    pended = event("ClaimPended", rs)
    async with npool.acquire() as conn, conn.transaction():
        assert await plan(conn, schema, pended, CLOCK.now()) == 1
        assert await plan(conn, schema, pended, CLOCK.now()) == 0
    assert await npool.fetchval("SELECT count(*) FROM deliveries") == 1


async def test_one_receiver_gets_at_most_its_share_of_the_slots(npool: asyncpg.Pool, schema: str) -> None:
    slow, fast = kode_rs(), kode_rs()
    await subscribe(npool, webhook(slow, "https://slow.example/hook"))
    await subscribe(npool, webhook(fast, "https://fast.example/hook"))
    await plan_events(npool, schema, slow, 5)
    await plan_events(npool, schema, fast, 1)
    first = await claim(npool, per_subscription=2)
    assert len(first) == 3  # two of the slow receiver's five, and the fast one's
    assert await claim(npool, per_subscription=2) == []  # the slow receiver's share is in flight
    resumed = await claim(npool, per_subscription=2, later_s=61)  # every lease expired: resumed, still capped
    assert sorted(resumed) == sorted(first)


async def test_concurrent_dispatchers_never_claim_the_same_delivery(npool: asyncpg.Pool, schema: str) -> None:
    rs = kode_rs()
    await subscribe(npool, webhook(rs, "https://a.example/hook"))
    await plan_events(npool, schema, rs, 30)
    claimed: list[int] = []
    while rounds := await asyncio.gather(claim(npool, limit=12), claim(npool, limit=12), claim(npool, limit=12)):
        if not any(rounds):
            break
        claimed += [i for r in rounds for i in r]
    assert len(claimed) == 30  # a row skipped as locked by one dispatcher is never taken by another
    assert len(set(claimed)) == 30


async def test_a_delivered_row_is_never_claimed_again(npool: asyncpg.Pool, schema: str) -> None:
    rs = kode_rs()
    await subscribe(npool, webhook(rs, "https://a.example/hook"))
    await plan_events(npool, schema, rs, 1)
    now = CLOCK.now()
    (d,) = await repository.claim_due(npool, now=now, limit=5, per_subscription=5, lease_s=1, token=uuid.uuid4())
    async with npool.acquire() as conn, conn.transaction():
        await repository.record_attempt(conn, d, now, 5, AttemptResult("delivered", 200))
        assert await repository.mark_delivered(conn, d, now)
    assert await claim(npool, later_s=86_400) == []


async def test_a_removed_subscription_gets_nothing_more(npool: asyncpg.Pool, schema: str) -> None:
    rs = kode_rs()
    sub_id = await subscribe(npool, webhook(rs, "https://a.example/hook"))
    await plan_events(npool, schema, rs, 3)
    now = CLOCK.now()
    (d,) = await repository.claim_due(npool, now=now, limit=1, per_subscription=5, lease_s=60, token=uuid.uuid4())
    async with npool.acquire() as conn, conn.transaction():
        assert await repository.remove_subscription(conn, sub_id, now) == 2  # the two still pending
        assert await repository.remove_subscription(conn, sub_id, now) is None
    async with npool.acquire() as conn, conn.transaction():  # the one in flight fails and would be retried ...
        assert await repository.schedule_retry(conn, d, now, "HTTP 503")
    statuses = await npool.fetch("SELECT status FROM deliveries ORDER BY id")
    assert [r["status"] for r in statuses] == ["cancelled"] * 3  # ... but is cancelled instead
    assert await claim(npool, later_s=3600) == []
