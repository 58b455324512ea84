"""Planning a batch on the real database: the rows event-by-event planning makes, in a few round trips."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import asyncpg
import pytest

from deploy.local import Stack
from services.notifier.adapters.unit_of_work import NotifierUnitOfWork
from services.notifier.application import Planner, application, plan, plan_all
from services.notifier.service import MIGRATIONS
from shared import db
from shared.clock import FixedClock
from shared.db import Conn
from shared.events import Envelope
from shared.outbox import Tx
from tests.integration.notifier.notifier_support import CLOCK, event, kode_rs, operators_email, subscribe, webhook

pytestmark = pytest.mark.integration

ROWS = """SELECT event_id, subscription_id, event_type, claim_id, kode_rs, channel, subject, text, body, status,
                 attempts, next_attempt_at, created_at FROM deliveries ORDER BY id"""


class Counting:
    """A connection that counts its round trips (the statements' first words, in order)."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.statements: list[str] = []

    def _count(self, sql: str) -> None:
        self.statements.append(sql.split(None, 1)[0].upper())

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        self._count(sql)
        return await self.conn.fetch(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        self._count(sql)
        return await self.conn.fetchval(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        self._count(sql)
        return await self.conn.fetchrow(sql, *args)

    async def execute(self, sql: str, *args: Any) -> str:
        self._count(sql)
        return await self.conn.execute(sql, *args)


@pytest.fixture
async def pools(stack: Stack, schema: str) -> AsyncIterator[tuple[asyncpg.Pool, asyncpg.Pool]]:
    """Two notifier schemas with the same subscriptions: one planned as a batch, one event by event."""
    made = []
    for name in (schema, f"{schema}_each"):
        await db.migrate(stack.database_url, name, MIGRATIONS)
        made.append(await db.create_pool(stack.database_url, name, max_size=2))
    try:
        yield made[0], made[1]
    finally:
        for p in made:
            await p.close()


async def test_a_batch_makes_the_rows_event_by_event_planning_makes_in_four_round_trips_instead_of_three_per_event(
    pools: tuple[asyncpg.Pool, asyncpg.Pool], schema: str
) -> None:
    batch_pool, each_pool = pools
    rs = [kode_rs() for _ in range(5)]  # rs[4] has no subscription
    for p in pools:
        for k in rs[:4]:
            await subscribe(p, webhook(k, f"https://{k.lower()}.example/hook"))
        await subscribe(p, webhook(rs[1], "https://payments.example/hook", language="en", event_types=("ClaimPaid",)))
        await subscribe(p, operators_email("ops@bpjs.example", event_types=("ClaimPended", "PaymentOverdue")))
    # Three runs of one type, as the kernel hands them: the second only hospitals already read, the third a new one.
    events: list[Envelope] = [
        *(event("ClaimPended", k) for k in (rs[0], rs[1], rs[2], rs[4], rs[0], rs[1])),
        *(event("ClaimPaid", k) for k in (rs[0], rs[1], rs[1], rs[2])),
        *(event("ClaimPended", k) for k in (rs[3], rs[3])),
    ]
    now = CLOCK.now()

    async with batch_pool.acquire() as conn, conn.transaction():
        counting = Counting(conn)
        uow = NotifierUnitOfWork(Tx(cast(Conn, counting), schema))
        await application(Planner(FixedClock(now))).handle(uow, events)
        await uow.flush()
    async with each_pool.acquire() as conn, conn.transaction():
        each = Counting(conn)
        new = [await plan(cast(Conn, each), f"{schema}_each", ev, now) for ev in events]

    assert new == [2, 2, 2, 1, 2, 2, 1, 2, 2, 1, 2, 2]  # the event's hospital's webhook(s) and the operators
    assert uow.planned == 21
    assert counting.statements == ["SELECT", "SELECT", "INSERT", "SELECT"]  # 2 reads, 1 insert, 1 NOTIFY
    assert each.statements == ["SELECT", "INSERT", "SELECT"] * 12  # read, insert, NOTIFY for every event
    batch_rows = [tuple(r) for r in await batch_pool.fetch(ROWS)]
    each_rows = [tuple(r) for r in await each_pool.fetch(ROWS)]
    assert len(batch_rows) == 21
    assert batch_rows == each_rows


async def test_an_event_planned_twice_keeps_one_row_per_subscription(stack: Stack, schema: str) -> None:
    await db.migrate(stack.database_url, schema, MIGRATIONS)
    pool = await db.create_pool(stack.database_url, schema, max_size=2)
    try:
        rs = kode_rs()
        await subscribe(pool, webhook(rs, "https://a.example/hook"))
        await subscribe(pool, operators_email("ops@bpjs.example", event_types=("ClaimPended",)))
        pended = event("ClaimPended", rs)
        now = CLOCK.now()
        for expected in (2, 0):  # twice in one batch (one insert), then again in a later batch
            async with pool.acquire() as conn, conn.transaction():
                uow = NotifierUnitOfWork(Tx(conn, schema))
                await plan_all(uow, [(pended, now), (pended, now)])
                await uow.flush()
            assert uow.planned == expected
        assert await pool.fetchval("SELECT count(*) FROM deliveries") == 2
    finally:
        await pool.close()
