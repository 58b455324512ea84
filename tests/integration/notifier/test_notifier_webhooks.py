"""Signed webhooks against a real local HTTP receiver: signature, retries, dead letters, isolation."""

from __future__ import annotations

import json
import time

import pytest

from deploy.local import free_port
from tests.integration.notifier.notifier_support import (
    SECRET,
    Notifier,
    Receiver,
    Reply,
    SmtpServer,
    documented_verifier,
    event,
    fetchval,
    kode_rs,
    operators_email,
    signed_headers,
    subscribe,
    webhook,
)
from tests.support.kafka import eventually

pytestmark = pytest.mark.integration


async def test_a_signed_webhook_verifies_with_the_documented_recipe_and_a_tampered_body_fails(
    notifier: Notifier, receiver: Receiver
) -> None:
    rs = kode_rs()
    pended = event("ClaimPended", rs)
    async with notifier.running() as runtime:
        assert runtime.ctx is not None
        pool = runtime.ctx.pool
        await subscribe(pool, webhook(rs, receiver.url("/rs"), timezone="Asia/Makassar"))
        await notifier.publish(pended)
        await eventually(lambda: _has(receiver, "/rs", 1), within=20)
        await eventually(lambda: _status(pool, pended.event_id, "delivered"), within=5)
        (got,) = receiver.to("/rs")
        verify = documented_verifier()
        assert verify(SECRET, signed_headers(got), got.body)
        assert not verify(SECRET, signed_headers(got), got.body.replace(b"ditunda", b"dibayar"))
        assert not verify("not-the-hospital-secret", signed_headers(got), got.body)
        assert got.headers["idempotency-key"] == str(pended.event_id)
        assert got.headers["x-jkn-event-type"] == "ClaimPended"
        doc = json.loads(got.body)
        assert doc["language"] == "id"
        assert "Kamis, 19 November 2026" in doc["subject"]
        assert "Informed consent untuk tindakan invasif belum dilampirkan" in doc["text"]
        assert "pukul 11.00 WITA" in doc["text"]  # 03:00 UTC in the hospital's zone
        assert doc["data"]["event_id"] == str(pended.event_id)
        attempts = await pool.fetch(
            "SELECT a.attempt, a.status_code, a.outcome, a.latency_ms FROM delivery_attempts a "
            "JOIN deliveries d ON d.id = a.delivery_id WHERE d.event_id = $1",
            pended.event_id,
        )
        assert [(a["attempt"], a["status_code"], a["outcome"]) for a in attempts] == [(1, 200, "delivered")]
        assert attempts[0]["latency_ms"] >= 0


async def test_a_receiver_that_fails_twice_then_succeeds_gets_exactly_one_accepted_delivery(
    notifier: Notifier, receiver: Receiver
) -> None:
    rs = kode_rs()
    receiver.script("/flaky", Reply(503), Reply(429, (("Retry-After", "1"),)), Reply(200))
    pended, marker = event("ClaimPended", rs), event("ClaimRejected", rs)
    async with notifier.running(notifier.tuned(backoff_max_s=2.0)) as runtime:  # Retry-After is capped at the max
        assert runtime.ctx is not None
        pool = runtime.ctx.pool
        await subscribe(pool, webhook(rs, receiver.url("/flaky")))
        await notifier.publish(pended)
        await eventually(lambda: _status(pool, pended.event_id, "delivered"), within=20)
        # The same event again (a republish): planned once, so nothing more is sent.
        await notifier.publish(pended, marker)
        await eventually(lambda: _status(pool, marker.event_id, "delivered"), within=20)
        rows = await pool.fetch(
            "SELECT a.attempt, a.status_code, a.outcome FROM delivery_attempts a "
            "JOIN deliveries d ON d.id = a.delivery_id WHERE d.event_id = $1 ORDER BY a.attempt",
            pended.event_id,
        )
        deliveries = await fetchval(pool, "SELECT count(*) FROM deliveries WHERE event_id = $1", pended.event_id)
    mine = [r for r in receiver.to("/flaky") if r.headers["idempotency-key"] == str(pended.event_id)]
    assert [r.status for r in mine] == [503, 429, 200]
    assert len({r.body for r in mine}) == 1  # the same bytes on every attempt
    assert mine[2].arrived - mine[1].arrived >= 0.9  # Retry-After: 1 honoured
    accepted = [r for r in receiver.accepted("/flaky") if r.headers["idempotency-key"] == str(pended.event_id)]
    assert len(accepted) == 1
    assert [(r["attempt"], r["status_code"], r["outcome"]) for r in rows] == [
        (1, 503, "retry"), (2, 429, "retry"), (3, 200, "delivered"),
    ]  # fmt: skip
    assert deliveries == 1


async def test_a_receiver_down_for_the_whole_retry_budget_gives_one_dead_letter_and_one_operator_alert(
    notifier: Notifier, smtp: SmtpServer
) -> None:
    rs = kode_rs()
    down = f"http://127.0.0.1:{free_port()}/hook"  # nobody listens there
    paid = event("ClaimPaid", rs)
    async with notifier.running() as runtime:
        assert runtime.ctx is not None
        pool = runtime.ctx.pool
        await subscribe(pool, webhook(rs, down))
        await subscribe(pool, operators_email("ops@bpjs.example"))
        await notifier.publish(paid)
        await eventually(lambda: _status(pool, paid.event_id, "dead"), within=20)
        await eventually(lambda: _alerts_delivered(pool, 1), within=20)
        attempts = await pool.fetch(
            "SELECT a.status_code, a.outcome, a.error FROM delivery_attempts a "
            "JOIN deliveries d ON d.id = a.delivery_id WHERE d.event_id = $1 ORDER BY a.attempt",
            paid.event_id,
        )
        dead = await pool.fetch("SELECT event_id, attempts, reason FROM dead_letters")
    assert [a["outcome"] for a in attempts] == ["retry", "retry", "retry", "retry"]  # max_attempts = 4
    assert all(a["status_code"] is None and "Connect" in a["error"] for a in attempts)
    assert [(d["event_id"], d["attempts"]) for d in dead] == [(paid.event_id, 4)]
    assert "gave up after 4 attempts" in dead[0]["reason"]
    (alert,) = smtp.inbox.about("Notifikasi gagal terkirim")
    assert "ClaimPaid" in str(alert["Subject"])
    text = alert.get_content()
    assert f"http://127.0.0.1:{down.split(':')[2].split('/')[0]}" in text
    assert "/hook" not in text  # the receiver is named without its path
    assert alert["X-JKN-Event-Type"] == "DeliveryFailed"


async def test_a_4xx_answer_is_not_retried(notifier: Notifier, receiver: Receiver, smtp: SmtpServer) -> None:
    rs = kode_rs()
    receiver.script("/gone", Reply(410))
    rejected = event("ClaimRejected", rs)
    async with notifier.running() as runtime:
        assert runtime.ctx is not None
        pool = runtime.ctx.pool
        await subscribe(pool, webhook(rs, receiver.url("/gone")))
        await subscribe(pool, operators_email("ops@bpjs.example", language="en"))
        await notifier.publish(rejected)
        await eventually(lambda: _status(pool, rejected.event_id, "dead"), within=20)
        await eventually(lambda: _alerts_delivered(pool, 1), within=20)
    assert [r.status for r in receiver.to("/gone")] == [410]
    (alert,) = smtp.inbox.about("Notification not delivered")
    assert "refused by the receiver: HTTP 410" in alert.get_content()


async def test_a_slow_receiver_does_not_hold_up_others(notifier: Notifier, receiver: Receiver) -> None:
    slow_rs, fast_rs = kode_rs(), kode_rs()
    receiver.script("/slow", *[Reply(200, delay_s=30) for _ in range(6)])
    config = notifier.tuned(concurrency=4, per_subscription_concurrency=2, webhook_timeout_s=3.0, lease_s=10.0,
                            backoff_base_s=5.0)  # fmt: skip
    slow = [event("ClaimPended", slow_rs) for _ in range(5)]
    fast = event("ClaimPended", fast_rs)
    async with notifier.running(config) as runtime:
        assert runtime.ctx is not None
        pool = runtime.ctx.pool
        await subscribe(pool, webhook(slow_rs, receiver.url("/slow")))
        await subscribe(pool, webhook(fast_rs, receiver.url("/fast")))
        await notifier.publish(*slow)
        await eventually(lambda: _has(receiver, "/slow", 2), within=20)
        started = time.monotonic()
        await notifier.publish(fast)
        await eventually(lambda: _status(pool, fast.event_id, "delivered"), within=20)
        # Delivered while the slow receiver still holds its requests (it answers after 30 s, times out at 3 s).
        assert receiver.accepted("/fast") and not any(r.arrived < started for r in receiver.to("/fast"))
        assert receiver.in_flight.get("/slow", 0) >= 1
    assert receiver.most_in_flight["/slow"] <= 2  # its share of the slots, never more


async def _has(receiver: Receiver, path: str, n: int) -> bool:
    return len(receiver.to(path)) >= n


async def _status(pool: object, event_id: object, status: str) -> bool:
    found = await fetchval(pool, "SELECT status FROM deliveries WHERE event_id = $1", event_id)  # type: ignore[arg-type]
    return bool(found == status)


async def _alerts_delivered(pool: object, n: int) -> bool:
    found = await fetchval(
        pool,  # type: ignore[arg-type]
        "SELECT count(*) FROM deliveries WHERE event_type = 'DeliveryFailed' AND status = 'delivered'",
    )
    return int(found) >= n
