"""A rotated webhook secret against the real notifier and a loopback receiver: during the overlap every
delivery verifies with the old or the new secret, after it (retired, or the overlap's end passed) only
with the new one. And a secret a notifier stored in clear before secrets were sealed is sealed at start."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import asyncpg
import pytest

from deploy.local import Stack
from services.notifier import application
from services.notifier.adapters import repository
from services.notifier.adapters.sealing import SecretBox
from services.notifier.application import plan
from services.notifier.service import MIGRATIONS
from shared import db
from tests.integration.notifier.notifier_support import (
    CLOCK,
    SECRET,
    SECRETS_KEY,
    Notifier,
    Receiver,
    documented_verifier,
    event,
    kode_rs,
    signed_headers,
    subscribe,
    webhook,
)
from tests.support.kafka import eventually

pytestmark = pytest.mark.integration

NEW_SECRET = "rs-0301-signing-secret-2027"
BOX = SecretBox([SECRETS_KEY])


async def test_during_the_overlap_either_secret_verifies_and_after_retirement_only_the_new_one(
    notifier: Notifier, receiver: Receiver
) -> None:
    rs = kode_rs()
    during, after = event("ClaimPended", rs), event("ClaimPaid", rs)
    verify = documented_verifier()
    async with notifier.running() as runtime:
        assert runtime.ctx is not None
        pool = runtime.ctx.pool
        sub_id = await subscribe(pool, webhook(rs, receiver.url("/rotating")))
        async with pool.acquire() as conn, conn.transaction():
            change = await application.rotate_secret(
                conn, sub_id, NEW_SECRET, timedelta(days=7), box=BOX, now=CLOCK.now()
            )
        assert change.refused is None
        await notifier.publish(during)
        await eventually(lambda: _delivered(pool, during.event_id), within=20)
        async with pool.acquire() as conn, conn.transaction():
            assert (await repository.retire_old_secrets(conn, sub_id, CLOCK.now())).retired == 1
        await notifier.publish(after)
        await eventually(lambda: _delivered(pool, after.event_id), within=20)
    first, second = receiver.to("/rotating")
    assert first.headers["idempotency-key"] == str(during.event_id)
    assert len(first.headers["x-jkn-signature"].split(",")) == 2
    assert verify(SECRET, signed_headers(first), first.body)  # a receiver still on the old secret
    assert verify(NEW_SECRET, signed_headers(first), first.body)  # a receiver already on the new one
    assert second.headers["idempotency-key"] == str(after.event_id)
    assert len(second.headers["x-jkn-signature"].split(",")) == 1
    assert verify(NEW_SECRET, signed_headers(second), second.body)
    assert not verify(SECRET, signed_headers(second), second.body)


async def test_when_the_overlap_ends_the_old_secret_stops_signing(stack: Stack, schema: str) -> None:
    """The same without retiring: a delivery leased after the overlap's end carries the new secret only."""
    await db.migrate(stack.database_url, schema, MIGRATIONS)
    pool = await db.create_pool(stack.database_url, schema, max_size=2)
    try:
        rs = kode_rs()
        sub_id = await subscribe(pool, webhook(rs, "https://rs.example/hook"))
        now = CLOCK.now()
        async with pool.acquire() as conn, conn.transaction():
            await application.rotate_secret(conn, sub_id, NEW_SECRET, timedelta(hours=36), box=BOX, now=now)
            await plan(conn, schema, event("ClaimPended", rs), now)
        in_overlap = await _signing(pool, now + timedelta(hours=35, minutes=59))
        after_overlap = await _signing(pool, now + timedelta(hours=36, seconds=1))
    finally:
        await pool.close()
    assert in_overlap == [NEW_SECRET, SECRET]  # newest first
    assert after_overlap == [NEW_SECRET]


async def _signing(pool: asyncpg.Pool, at: datetime) -> list[str]:
    """The secrets a delivery leased at `at` is signed with (the lease is handed back afterwards)."""
    (d,) = await repository.claim_due(pool, now=at, limit=1, per_subscription=1, lease_s=1, token=uuid.uuid4())
    await repository.release(pool, [d.id], d.lease_token, at)
    return [BOX.open(s) for s in d.sealed_secrets]


async def _delivered(pool: asyncpg.Pool, event_id: object) -> bool:
    return bool(await pool.fetchval("SELECT status FROM deliveries WHERE event_id = $1", event_id) == "delivered")


async def test_a_secret_stored_in_clear_before_sealing_existed_is_sealed_when_the_notifier_starts(
    notifier: Notifier, receiver: Receiver, stack: Stack, schema: str
) -> None:
    rs = kode_rs()
    await db.migrate(stack.database_url, schema, MIGRATIONS)
    conn = await asyncpg.connect(stack.database_url, server_settings={"search_path": schema})
    try:  # as a notifier before migration 0002 stored it
        await conn.execute(
            """INSERT INTO subscriptions (audience, kode_rs, channel, target, secret, event_types, created_at)
               VALUES ('hospital', $1, 'webhook', $2, $3, ARRAY['ClaimPended'], now())""",
            rs,
            receiver.url("/legacy"),
            SECRET,
        )
    finally:
        await conn.close()
    pended = event("ClaimPended", rs)
    async with notifier.running() as runtime:
        assert runtime.ctx is not None
        pool = runtime.ctx.pool
        await notifier.publish(pended)
        await eventually(lambda: _delivered(pool, pended.event_id), within=20)
        clear = await pool.fetchval("SELECT count(*) FROM subscriptions WHERE secret IS NOT NULL")
        sealed = await pool.fetch("SELECT sealed FROM webhook_secrets")
    assert clear == 0
    assert len(sealed) == 1 and SECRET.encode() not in bytes(sealed[0]["sealed"])
    assert BOX.open(bytes(sealed[0]["sealed"])) == SECRET
    (got,) = receiver.to("/legacy")
    assert documented_verifier()(SECRET, signed_headers(got), got.body)
