"""The notifier's planning use case on a batch, with an in-memory unit of work: who gets which delivery row."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from services.notifier.application import Planner, application
from services.notifier.domain.messages import HANDLED_EVENTS
from services.notifier.domain.model import Subscription
from services.notifier.service import SPEC
from shared.application import IncompleteApplication
from shared.clock import FixedClock
from shared.events import ClaimSubmitted, Envelope, parse_event_obj
from tests.support.factories import example
from tests.unit.notifier.fakes import FakeUnitOfWork

NOW = datetime(2026, 11, 10, 3, 0, 5, tzinfo=UTC)
PLANNER = Planner(FixedClock(NOW))

SUBSCRIPTIONS = [
    Subscription(1, "hospital", "0301R001", "webhook", "https://rs0301.example/hook", "en", "Asia/Jakarta",
                 ("ClaimPended", "ClaimPaid")),
    Subscription(2, "hospital", "0302R002", "email", "klaim@rs0302.example", "id", "Asia/Makassar", ("ClaimPaid",)),
    Subscription(3, "operators", None, "email", "ops@bpjs.example", "id", "Asia/Makassar",
                 ("ClaimPended", "PaymentOverdue")),
    Subscription(4, "hospital", "0301R001", "email", "old@rs0301.example", "id", "Asia/Jakarta", ("ClaimPended",),
                 active=False),
]  # fmt: skip

PENDED_EN = "Claim 0301R0011126V000123 pended: complete the file by Thursday, 19 November 2026"
PENDED_ID = "Klaim 0301R0011126V000123 ditunda: lengkapi berkas paling lambat Kamis, 19 November 2026"
PAID_EN = "Payment for claim 0301R0011126V000123: IDR 5,634,100"
PAID_ID = "Pembayaran klaim 0301R0011126V000123: Rp 5.634.100"
OVERDUE_ID = "Pembayaran klaim 0301R0011126V000123 terlambat 1 hari"


def event(event_type: str, event_id: str, kode_rs: str, claim_id: str) -> Envelope:
    doc: dict[str, Any] = example(event_type)
    doc["event_id"] = event_id
    doc["claim_id"] = claim_id
    doc["payload"]["kode_rs"] = kode_rs
    return parse_event_obj(doc)


A = "00000000-0000-4000-8000-00000000000a"
B = "00000000-0000-4000-8000-00000000000b"
C = "00000000-0000-4000-8000-00000000000c"
D = "00000000-0000-4000-8000-00000000000d"


def rows(uow: FakeUnitOfWork) -> list[tuple[str, int, str, str | None, str | None, str, str, bool]]:
    """The planned rows, less their long texts and bodies (checked on their own)."""
    return [
        (str(d.event_id), d.subscription_id, d.event_type, d.claim_id, d.kode_rs, d.channel, d.subject,
         d.body is not None)
        for d, _ in uow.deliveries.added
    ]  # fmt: skip


async def test_a_batch_plans_one_row_per_matching_subscription_with_one_read() -> None:
    uow = FakeUnitOfWork(SUBSCRIPTIONS)
    await PLANNER.tell(uow, [
        event("ClaimPended", A, "0301R001", "RS0301R001-2026-000123"),
        event("ClaimPended", B, "0302R002", "RS0302R002-2026-000007"),
    ])  # fmt: skip
    assert rows(uow) == [
        (A, 1, "ClaimPended", "RS0301R001-2026-000123", "0301R001", "webhook", PENDED_EN, True),
        (A, 3, "ClaimPended", "RS0301R001-2026-000123", "0301R001", "email", PENDED_ID, False),
        (B, 3, "ClaimPended", "RS0302R002-2026-000007", "0302R002", "email", PENDED_ID, False),
    ]  # 0302R002's own subscription hears only of payments; #4 is inactive
    assert [now for _, now in uow.deliveries.added] == [NOW, NOW, NOW]
    assert uow.subscriptions.reads == 1
    assert uow.subscriptions.asked == [{"0301R001", "0302R002"}]


async def test_an_event_nobody_subscribed_to_plans_nothing() -> None:
    uow = FakeUnitOfWork(SUBSCRIPTIONS)
    await PLANNER.tell(uow, [event("ClaimPaid", C, "0309R009", "RS0309R009-2026-000001")])
    assert uow.deliveries.added == []
    assert uow.subscriptions.reads == 1


async def test_a_webhook_row_carries_its_json_body_an_email_row_none_each_in_its_language_and_zone() -> None:
    uow = FakeUnitOfWork(SUBSCRIPTIONS)
    await PLANNER.tell(uow, [event("ClaimPended", A, "0301R001", "RS0301R001-2026-000123")])
    (hook, _), (mail, _) = uow.deliveries.added
    assert hook.body is not None and mail.body is None
    doc = json.loads(hook.body)
    assert {k: doc[k] for k in ("event_id", "event_type", "claim_id", "kode_rs", "subscription_id", "language")} == {
        "event_id": A, "event_type": "ClaimPended", "claim_id": "RS0301R001-2026-000123", "kode_rs": "0301R001",
        "subscription_id": 1, "language": "en",
    }  # fmt: skip
    assert doc["subject"] == PENDED_EN == hook.subject
    assert doc["data"]["payload"]["nomor_sep"] == "0301R0011126V000123"
    # Each subscriber reads it in its own language and time zone.
    assert "Event time: 10 November 2026, 10:00 WIB\n" in hook.text
    assert "Waktu kejadian: 10 November 2026 pukul 11.00 WITA\n" in mail.text


async def test_the_application_applies_each_run_of_one_type_in_the_order_received() -> None:
    uow = FakeUnitOfWork(SUBSCRIPTIONS)
    batch = [
        event("ClaimPaid", C, "0302R002", "RS0302R002-2026-000007"),
        event("PaymentOverdue", D, "0302R002", "RS0302R002-2026-000007"),
        event("ClaimPaid", A, "0301R001", "RS0301R001-2026-000123"),
    ]
    await application(PLANNER).handle(uow, batch)  # type: ignore[arg-type]  # a fake unit of work
    assert rows(uow) == [
        (C, 2, "ClaimPaid", "RS0302R002-2026-000007", "0302R002", "email", PAID_ID, False),
        (D, 3, "PaymentOverdue", "RS0302R002-2026-000007", "0302R002", "email", OVERDUE_ID, False),
        (A, 1, "ClaimPaid", "RS0301R001-2026-000123", "0301R001", "webhook", PAID_EN, True),
    ]


def test_the_table_names_every_consumed_type_and_nothing_else() -> None:
    app = application(PLANNER)
    (consumes,) = SPEC.consumes
    app.check_complete(consumes.accepted)
    assert set(app.handlers) == set(HANDLED_EVENTS)
    assert len(app.handlers) == 8
    with pytest.raises(IncompleteApplication, match="no handler for ClaimSubmitted"):
        app.check_complete({**consumes.accepted, "claims.submitted": (ClaimSubmitted,)})
