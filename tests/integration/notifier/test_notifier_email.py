"""E-mail over SMTP (aiosmtplib) to a real local SMTP server (aiosmtpd)."""

from __future__ import annotations

import pytest

from services.notifier.domain.model import SubscriptionRequest
from tests.integration.notifier.notifier_support import (
    Notifier,
    SmtpServer,
    event,
    fetchval,
    kode_rs,
    subscribe,
)
from tests.support.kafka import eventually

pytestmark = pytest.mark.integration


def email_to(rs: str, address: str, **changes: object) -> SubscriptionRequest:
    return SubscriptionRequest("hospital", rs, "email", address, **changes)  # type: ignore[arg-type]


async def test_an_email_in_english_with_times_in_the_hospitals_zone(notifier: Notifier, smtp: SmtpServer) -> None:
    rs = kode_rs()
    paid = event("ClaimPaid", rs)
    async with notifier.running() as runtime:
        assert runtime.ctx is not None
        pool = runtime.ctx.pool
        await subscribe(pool, email_to(rs, "klaim@rs.example", language="en", timezone="Asia/Jayapura",
                                       event_types=("ClaimPaid",)))  # fmt: skip
        await notifier.publish(paid, event("ClaimPended", rs))  # not subscribed to ClaimPended
        await eventually(lambda: _delivered(pool, "ClaimPaid"), within=20)
        codes = await pool.fetch("SELECT status_code FROM delivery_attempts")
        planned = await fetchval(pool, "SELECT count(*) FROM deliveries")
    (mail,) = smtp.inbox.messages
    assert mail["To"] == "klaim@rs.example"
    assert mail["Subject"] == "Payment for claim 0301R0011126V000123: IDR 5,634,100"
    assert mail["Message-ID"].startswith(f"<{paid.event_id}.")
    assert mail["X-JKN-Event-Id"] == str(paid.event_id)
    text = mail.get_content()
    assert "Total paid: IDR 5,634,100" in text
    assert "Paid on time (no penalty)." in text
    assert "1 December 2026, 12:00 WIT" in text  # 03:00 UTC in Jayapura
    assert [c["status_code"] for c in codes] == [250]
    assert planned == 1


async def test_an_smtp_4xx_is_retried_and_delivered_once(notifier: Notifier, smtp: SmtpServer) -> None:
    rs = kode_rs()
    smtp.inbox.replies = ["451 4.3.0 Mailbox busy, try later"]
    pended = event("ClaimPended", rs)
    async with notifier.running() as runtime:
        assert runtime.ctx is not None
        pool = runtime.ctx.pool
        await subscribe(pool, email_to(rs, "klaim@rs.example"))
        await notifier.publish(pended)
        await eventually(lambda: _delivered(pool, "ClaimPended"), within=20)
        rows = await pool.fetch("SELECT attempt, status_code, outcome FROM delivery_attempts ORDER BY attempt")
    assert [(r["attempt"], r["status_code"], r["outcome"]) for r in rows] == [(1, 451, "retry"), (2, 250, "delivered")]
    (mail,) = smtp.inbox.messages
    assert "ditunda" in str(mail["Subject"])
    assert "Kamis, 19 November 2026" in mail.get_content()


async def _delivered(pool: object, event_type: str) -> bool:
    found = await fetchval(
        pool,  # type: ignore[arg-type]
        "SELECT count(*) FROM deliveries WHERE event_type = $1 AND status = 'delivered'",
        event_type,
    )
    return int(found) >= 1
