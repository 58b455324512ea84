"""The DLQ watcher takes any bytes: odd keys, headers and huge values are stored and told escaped,
and a record that cannot be stored as it is never holds up the records after it."""

from __future__ import annotations

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from tests.integration.notifier.notifier_support import Notifier, SmtpServer, fetchval, operators_email, subscribe
from tests.support.kafka import eventually

pytestmark = pytest.mark.integration

# A storage bug for one record, made real: the database refuses that row (and only that row).
POISON_TRIGGER = """
CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.record_key = 'C-POISON' THEN RAISE EXCEPTION 'a storage bug for this one record'; END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER refuse_poison BEFORE INSERT ON dlq_arrivals FOR EACH ROW EXECUTE FUNCTION refuse_poison();
"""


async def test_odd_bytes_and_a_record_that_cannot_be_stored_never_block_the_next(
    notifier: Notifier, smtp: SmtpServer
) -> None:
    topic = notifier.topic("claims.verified.dlq")
    big = b'{"note": "' + b"y" * 600_000 + b'"}'
    async with notifier.running() as runtime:
        assert runtime.ctx is not None
        pool = runtime.ctx.pool
        await subscribe(pool, operators_email("ops@bpjs.example"))
        await pool.execute(POISON_TRIGGER)
        producer = AIOKafkaProducer(bootstrap_servers=notifier.stack.bootstrap_servers, acks="all")
        await producer.start()
        try:
            for key, value, headers in [
                (b"C-\x00-NUL", b"{}", [("dlq.error", b"schema"), ("dlq.consumer", b"payments")]),
                (b"C-BADHDR", b"\x00\xff", [("x-trace", b"\xc3\x28\x00"), ("dlq.error", b"schema"),
                                            ("dlq.reason", b"\xff\xfe bad")]),
                (b"C-BIG", big, [("dlq.error", b"too-large"), ("dlq.consumer", b"payments")]),
                (b"C-POISON", b"{}", [("dlq.error", b"handler-error"), ("dlq.consumer", b"payments")]),
                (b"C-NORMAL", b'{"ok": true}', [("dlq.error", b"handler-error"), ("dlq.consumer", b"payments")]),
            ]:  # fmt: skip
                await producer.send(topic, value, key=key, headers=headers)
            await producer.flush()
        finally:
            await producer.stop()
        await eventually(lambda: _alerts(pool, 5), within=30)
        arrivals = {r["record_key"]: r for r in await pool.fetch("SELECT * FROM dlq_arrivals ORDER BY record_offset")}

    assert list(arrivals) == ["C-\\x00-NUL", "C-BADHDR", "C-BIG", None, "C-NORMAL"]
    assert arrivals["C-\\x00-NUL"]["error"] == "schema"
    assert arrivals["C-BADHDR"]["reason"] == "\\xff\\xfe bad"
    assert arrivals[None]["error"] == "handler-error"  # the poison record, stored in its minimal form
    assert arrivals[None]["reason"].startswith("the notifier could not store this record as it is")
    assert arrivals["C-NORMAL"]["error"] == "handler-error"

    mails = [m.get_content() for m in smtp.inbox.messages]
    assert len(mails) == 5
    nul = next(text for text in mails if "C-\\x00-NUL" in text)
    assert "Kunci: C-\\x00-NUL" in nul and "\x00" not in nul
    huge = next(text for text in mails if "C-BIG" in text)
    assert len(huge) < 5_000  # a preview, not 600 KB
    assert any("C-NORMAL" in text for text in mails)


async def _alerts(pool: asyncpg.Pool, n: int) -> bool:
    found = await fetchval(
        pool, "SELECT count(*) FROM deliveries WHERE event_type = 'DeadLetterArrived' AND status = 'delivered'"
    )
    return int(found) >= n
