"""Operators hear of every record on a dead-letter topic, once, across restarts."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaProducer

from tests.integration.notifier.notifier_support import Notifier, SmtpServer, fetchval, operators_email, subscribe
from tests.support.kafka import eventually, produce

pytestmark = pytest.mark.integration


async def test_dead_letters_alert_the_operators_once_across_restarts(notifier: Notifier, smtp: SmtpServer) -> None:
    bootstrap = notifier.stack.bootstrap_servers
    async with notifier.running() as runtime:
        assert runtime.ctx is not None
        pool = runtime.ctx.pool
        await subscribe(pool, operators_email("ops@bpjs.example"))
        # Unreadable bytes on a topic the notifier consumes: its own consumer dead-letters them ...
        await produce(bootstrap, notifier.topic("claims.pended"), [(b"RS0301R001-2026-000999", b"\xff\xfe not json")])
        # ... and a record another service dead-lettered.
        await _dead_letter(bootstrap, notifier.topic("claims.verified.dlq"), b"C-42", b"{}", b"handler-error")
        await eventually(lambda: _alerts(pool, 2), within=25)

    async with notifier.running() as runtime:
        assert runtime.ctx is not None
        pool = runtime.ctx.pool
        await _dead_letter(bootstrap, notifier.topic("payments.commands.dlq"), b"RUN-1", b"{", b"schema")
        await eventually(lambda: _alerts(pool, 3), within=25)
        arrivals = await fetchval(pool, "SELECT count(*) FROM dlq_arrivals")
        planned = await fetchval(pool, "SELECT count(*) FROM deliveries")
    assert arrivals == 3 and planned == 3  # the first two were not told again after the restart
    subjects = sorted(str(m["Subject"]) for m in smtp.inbox.messages)
    assert len(subjects) == 3
    pended = next(m for m in smtp.inbox.messages if "claims.pended.dlq" in str(m["Subject"]))
    assert "(schema)" in str(pended["Subject"])
    text = pended.get_content()
    assert f"Konsumen: notifier-{notifier.schema}" in text
    assert "Kunci: RS0301R001-2026-000999" in text
    assert any("claims.verified.dlq (handler-error)" in s for s in subjects)


async def _dead_letter(bootstrap: str, topic: str, key: bytes, value: bytes, error: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            topic, value, key=key, headers=[("dlq.error", error), ("dlq.reason", b"test"), ("dlq.consumer", b"x")]
        )
    finally:
        await producer.stop()


async def _alerts(pool: object, n: int) -> bool:
    found = await fetchval(
        pool,  # type: ignore[arg-type]
        "SELECT count(*) FROM deliveries WHERE event_type = 'DeadLetterArrived' AND status = 'delivered'",
    )
    return int(found) >= n
