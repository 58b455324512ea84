"""Restarts and crashes never lose a delivery and never deliver one twice."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest

from deploy.local import Stack
from services.notifier.adapters import repository
from services.notifier.application import plan
from services.notifier.service import MIGRATIONS
from shared import db
from tests.integration.notifier.notifier_support import (
    CLOCK,
    Notifier,
    Receiver,
    Reply,
    event,
    fetchval,
    kode_rs,
    subscribe,
    webhook,
)
from tests.support.kafka import eventually

pytestmark = pytest.mark.integration


async def test_the_notifier_restarted_mid_retry_resumes_without_a_duplicate_delivery(
    notifier: Notifier, receiver: Receiver
) -> None:
    rs = kode_rs()
    receiver.script("/rs", Reply(503, (("Retry-After", "5"),)), Reply(503), Reply(200))
    config = notifier.tuned(backoff_max_s=10.0)
    paid = event("ClaimPaid", rs)
    async with notifier.running(config) as first:
        assert first.ctx is not None
        pool = first.ctx.pool
        await subscribe(pool, webhook(rs, receiver.url("/rs")))
        await notifier.publish(paid)
        await eventually(lambda: _attempts_logged(pool, paid.event_id, 1), within=20)
    # Stopped while the retry waits (Retry-After: 5).
    assert [r.status for r in receiver.to("/rs")] == [503]
    between = await db.create_pool(notifier.stack.database_url, notifier.schema)
    try:
        state = await between.fetchrow("SELECT status, attempts FROM deliveries WHERE event_id = $1", paid.event_id)
    finally:
        await between.close()
    assert state is not None and (state["status"], state["attempts"]) == ("pending", 1)

    async with notifier.running(config) as second:
        assert second.ctx is not None
        pool = second.ctx.pool
        await eventually(lambda: _delivered(pool, paid.event_id), within=20)
        rows = await pool.fetch(
            "SELECT a.attempt, a.status_code FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id "
            "WHERE d.event_id = $1 ORDER BY a.attempt",
            paid.event_id,
        )
        planned = await fetchval(pool, "SELECT count(*) FROM deliveries")
    assert [r.status for r in receiver.to("/rs")] == [503, 503, 200]
    assert len(receiver.accepted("/rs")) == 1
    assert {r.headers["idempotency-key"] for r in receiver.to("/rs")} == {str(paid.event_id)}
    assert [(r["attempt"], r["status_code"]) for r in rows] == [(1, 503), (2, 503), (3, 200)]
    assert planned == 1  # the restarted consumer did not plan the event again


async def test_a_delivery_left_in_flight_by_a_crashed_instance_is_resumed_once_its_lease_expires(
    stack: Stack, notifier: Notifier, receiver: Receiver
) -> None:
    rs = kode_rs()
    await db.migrate(stack.database_url, notifier.schema, MIGRATIONS)
    pool = await db.create_pool(stack.database_url, notifier.schema)
    try:
        await subscribe(pool, webhook(rs, receiver.url("/rs")))
        verified = event("ClaimVerified", rs)
        now = CLOCK.now()
        async with pool.acquire() as conn, conn.transaction():
            assert await plan(conn, notifier.schema, verified, now) == 1
        # An instance leases it, starts the attempt and dies (SIGKILL: nothing is handed back).
        (crashed,) = await repository.claim_due(
            pool, now=now, limit=10, per_subscription=10, lease_s=3.0, token=uuid.uuid4()
        )
        leased_at = time.monotonic()
        async with notifier.running() as runtime:
            assert runtime.ctx is not None
            await eventually(lambda: _delivered(pool, verified.event_id), within=20)
        (got,) = receiver.to("/rs")
        assert got.arrived - leased_at >= 2.5  # not before the dead instance's lease ran out
        assert got.headers["idempotency-key"] == str(verified.event_id)
        attempts = await pool.fetch(
            "SELECT attempt, status_code FROM delivery_attempts WHERE delivery_id = $1", crashed.id
        )
        assert [(a["attempt"], a["status_code"]) for a in attempts] == [(2, 200)]
        assert await fetchval(pool, "SELECT attempts FROM deliveries WHERE id = $1", crashed.id) == 2
        assert await fetchval(pool, "SELECT lease_until FROM deliveries WHERE id = $1", crashed.id) is None
        assert now + timedelta(seconds=3) <= CLOCK.now()
    finally:
        await pool.close()


async def _attempts_logged(pool: object, event_id: uuid.UUID, n: int) -> bool:
    found = await fetchval(
        pool,  # type: ignore[arg-type]
        "SELECT count(*) FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.event_id = $1",
        event_id,
    )
    return int(found) >= n


async def _delivered(pool: object, event_id: uuid.UUID) -> bool:
    found = await fetchval(pool, "SELECT status FROM deliveries WHERE event_id = $1", event_id)  # type: ignore[arg-type]
    return bool(found == "delivered")
