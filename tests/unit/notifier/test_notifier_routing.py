"""Which subscriptions hear about what, and which subscription requests are refused."""

from __future__ import annotations

from dataclasses import replace

from services.notifier.domain.model import Subscription, SubscriptionRequest
from services.notifier.domain.routing import (
    DEAD_LETTER_ARRIVED,
    DELIVERY_FAILED,
    HOSPITAL_EVENT_TYPES,
    OPERATOR_EVENT_TYPES,
    redact_target,
    route,
    validate,
    with_defaults,
)


def hospital(sub_id: int, kode_rs: str, *types: str) -> Subscription:
    return Subscription(sub_id, "hospital", kode_rs, "webhook", "https://rs.example/hook", "id", "Asia/Jakarta",
                        types or HOSPITAL_EVENT_TYPES, signing_secrets=1)  # fmt: skip


def operators(sub_id: int, *types: str) -> Subscription:
    return Subscription(sub_id, "operators", None, "email", "ops@bpjs.example", "id", "Asia/Jakarta",
                        types or OPERATOR_EVENT_TYPES)  # fmt: skip


SUBS = [hospital(1, "0301R001"), hospital(2, "0301R001", "ClaimPaid"), hospital(3, "1101R002"), operators(4)]


def ids(subs: list[Subscription]) -> list[int]:
    return [s.id for s in subs]


def test_a_hospital_hears_only_about_its_own_claims() -> None:
    assert ids(route(SUBS, "ClaimPended", "0301R001")) == [1]
    assert ids(route(SUBS, "ClaimPended", "1101R002")) == [3]
    assert ids(route(SUBS, "ClaimPended", "9999R999")) == []


def test_event_types_filter_each_subscription() -> None:
    assert ids(route(SUBS, "ClaimPaid", "0301R001")) == [1, 2]


def test_operators_hear_about_overdue_payments_dead_letters_and_failed_deliveries() -> None:
    assert ids(route(SUBS, "PaymentOverdue", "0301R001")) == [4]
    assert ids(route(SUBS, DEAD_LETTER_ARRIVED, None)) == [4]
    assert ids(route(SUBS, DELIVERY_FAILED, "0301R001")) == [4]


def test_an_operator_watching_hospital_types_hears_about_every_hospital() -> None:
    watcher = operators(5, "ClaimRejected")
    assert ids(route([watcher], "ClaimRejected", "0301R001")) == [5]
    assert ids(route([watcher], "ClaimRejected", "1101R002")) == [5]


def test_removed_subscriptions_and_repeats_are_skipped() -> None:
    removed = replace(hospital(6, "0301R001"), active=False)
    assert ids(route([removed, SUBS[0], SUBS[0]], "ClaimPended", "0301R001")) == [1]


def request(**changes: object) -> SubscriptionRequest:
    base = SubscriptionRequest("hospital", "0301R001", "webhook", "https://rs.example/hook", secret="k" * 16)
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_good_request_passes_and_gets_the_audience_defaults() -> None:
    assert validate(request()) == []
    assert with_defaults(request()).event_types == HOSPITAL_EVENT_TYPES
    ops = SubscriptionRequest("operators", None, "email", "ops@bpjs.example")
    assert validate(ops) == []
    assert with_defaults(ops).event_types == OPERATOR_EVENT_TYPES
    assert with_defaults(request(event_types=("ClaimPaid",))).event_types == ("ClaimPaid",)


def test_bad_requests_name_every_problem() -> None:
    problems = validate(request(kode_rs=None, target="ftp://x", secret="short", timezone="Mars/Olympus",
                                event_types=(DEAD_LETTER_ARRIVED, "Nope")))  # fmt: skip
    text = "\n".join(problems)
    assert "kode_rs" in text
    assert "webhook URL" in text
    assert "signing secret" in text
    assert "Mars/Olympus" in text
    assert "DeadLetterArrived, Nope" in text
    assert validate(request(channel="email", target="not-an-address", secret=None))[0].startswith("not an e-mail")
    assert "no kode_rs" in validate(replace(request(), audience="operators"))[0]


def test_a_hospital_may_opt_in_to_its_overdue_payments() -> None:
    assert validate(request(event_types=("PaymentOverdue",))) == []


def test_receivers_are_named_without_paths_or_queries() -> None:
    assert redact_target("webhook", "https://rs.example:8443/hook?token=abc") == "https://rs.example:8443"
    assert redact_target("email", "klaim@rs.example") == "klaim@rs.example"
