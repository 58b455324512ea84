"""Every message renders in Indonesian and English, with dates in words and instants in the reader's zone."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest

from services.notifier.domain.formatting import format_date, format_instant, format_rupiah
from services.notifier.domain.messages import HANDLED_EVENTS, Message, render, template_key, webhook_body
from services.notifier.domain.model import LANGUAGES, Language
from services.notifier.domain.notices import DeadLetterArrival, FailedDelivery, Source, notice_of
from services.notifier.domain.routing import ALL_EVENT_TYPES
from services.notifier.domain.templates import TEMPLATES
from shared.events import ClaimVerified, Envelope, event_type_name, parse_event_obj
from tests.support.factories import example

ZONES = {"Asia/Jakarta": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT"}
NOW = datetime(2026, 11, 10, 3, 0, tzinfo=UTC)


def event(event_type: str, **payload: Any) -> Envelope:
    doc = example(event_type)
    doc["payload"].update(payload)
    return parse_event_obj(doc)


def adjusted() -> Envelope:
    adjustment = {
        "reason": {"code": "V-CODING-SEVERITY", "field": "diagnosa[1]",
                   "message_id": "Diagnosis sekunder tidak didukung hasil penunjang",
                   "message_en": "Secondary diagnosis not supported by results"},
        "amount": 812400,
    }  # fmt: skip
    return event("ClaimVerified", approved_amount=4821700, adjustments=[adjustment], dispute_by="2026-11-30")


def dead_letter() -> DeadLetterArrival:
    return DeadLetterArrival.from_record(
        "claims.pended.dlq", 0, 42, 1_794_000_000_000, b"RS0301R001-2026-000123", b"\xff\xfe not json",
        [("dlq.error", b"schema"), ("dlq.reason", b"(document): Invalid JSON"), ("dlq.consumer", b"notifier"),
         ("dlq.source.topic", b"claims.pended"), ("dlq.source.partition", b"3"), ("dlq.source.offset", b"17")],
        NOW,
    )  # fmt: skip


def failed() -> FailedDelivery:
    return FailedDelivery(12, uuid.uuid4(), "ClaimPaid", "RS0301R001-2026-000123", "0301R001", 3, "webhook",
                          "https://rs.example", 10, "gave up after 10 attempts: HTTP 503", NOW)  # fmt: skip


def sources() -> dict[str, Source]:
    """One source per template."""
    found: dict[str, Source] = {event_type_name(cls): event(event_type_name(cls)) for cls in HANDLED_EVENTS}
    found["ClaimVerified.adjusted"] = adjusted()
    found["ClaimRejected.refusal"] = event("ClaimRejected", stage="verifier", refusal=True)
    found["DeadLetterArrived"] = dead_letter()
    found["DeliveryFailed"] = failed()
    return found


def test_every_template_has_both_languages_and_every_handled_type_a_template() -> None:
    assert set(sources()) == set(TEMPLATES)
    assert all(set(pair) == set(LANGUAGES) for pair in TEMPLATES.values())
    assert {t.split(".")[0] for t in TEMPLATES} == set(ALL_EVENT_TYPES)


@pytest.mark.parametrize("key", sorted(TEMPLATES))
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("zone", sorted(ZONES))
def test_every_template_renders_in_both_languages_in_every_zone(key: str, lang: Language, zone: str) -> None:
    source = sources()[key]
    assert template_key(source) == key
    msg = render(source, lang, zone)
    assert msg.subject and "\n" not in msg.subject
    assert "$" not in msg.subject + msg.text
    assert ZONES[zone] in msg.text  # the instant is shown in the reader's zone
    greeting = {"id": ("Kepada",), "en": ("Dear",)}[lang]
    assert msg.text.startswith(greeting)


def test_a_pended_claim_says_what_is_missing_and_the_resubmit_date_in_words() -> None:
    ev = event("ClaimPended")
    ind, eng = render(ev, "id", "Asia/Jakarta"), render(ev, "en", "Asia/Jakarta")
    assert "Kamis, 19 November 2026" in ind.subject
    assert "Informed consent untuk tindakan invasif belum dilampirkan" in ind.text
    assert "10 November 2026 pukul 10.00 WIB" in ind.text
    assert "Thursday, 19 November 2026" in eng.subject
    assert "Informed consent for the invasive procedure is missing" in eng.text
    assert "10 November 2026, 10:00 WIB" in eng.text


def test_instants_are_converted_to_the_hospital_zone_across_midnight() -> None:
    ev = event("ClaimRejected")
    late = parse_event_obj({**ev.model_dump(mode="json"), "occurred_at": "2026-08-16T20:30:00Z"})
    assert "17 Agustus 2026 pukul 03.30 WIB" in render(late, "id", "Asia/Jakarta").text
    assert "17 Agustus 2026 pukul 04.30 WITA" in render(late, "id", "Asia/Makassar").text
    assert "17 August 2026, 05:30 WIT" in render(late, "en", "Asia/Jayapura").text


def test_a_rejection_lists_every_reason_in_the_readers_language() -> None:
    ind = render(event("ClaimRejected"), "id", "Asia/Jakarta").text
    eng = render(event("ClaimRejected"), "en", "Asia/Jakarta").text
    assert "- Kode ICD-10 E11.99 tidak dikenal [G-ICD10-UNKNOWN, diagnosa[1]]" in ind
    assert "- Tanggal pulang sebelum tanggal masuk [G-DATES-ORDER, tgl_pulang]" in ind
    assert "- ICD-10 code E11.99 is unknown [G-ICD10-UNKNOWN, diagnosa[1]]" in eng


def test_an_adjustment_says_what_changed_and_how_and_by_when_to_dispute() -> None:
    ind = render(adjusted(), "id", "Asia/Makassar")
    eng = render(adjusted(), "en", "Asia/Makassar")
    assert "penyesuaian" in ind.subject
    assert "Rp 5.634.100" in ind.text and "Rp 4.821.700" in ind.text and "Selisih: Rp 812.400" in ind.text
    assert "Diagnosis sekunder tidak didukung hasil penunjang: -Rp 812.400 [V-CODING-SEVERITY]" in ind.text
    assert "ajukan sengketa" in ind.text and "Senin, 30 November 2026" in ind.text
    assert "Difference: IDR 812,400" in eng.text and "file a dispute" in eng.text
    assert "Monday, 30 November 2026" in eng.text


def test_a_plain_verification_is_not_an_adjustment() -> None:
    ev = event("ClaimVerified")
    assert isinstance(ev, ClaimVerified)
    assert template_key(ev) == "ClaimVerified"
    assert "terverifikasi: Rp 5.634.100" in render(ev, "id", "Asia/Jakarta").subject


def test_a_payment_states_amount_and_penalty() -> None:
    late = event("ClaimPaid", penalty=18780, total_paid=5652880, days_late=3, paid_on="2026-12-04")
    ind = render(late, "id", "Asia/Jakarta").text
    eng = render(late, "en", "Asia/Jakarta").text
    assert "Denda keterlambatan: Rp 18.780" in ind and "Total dibayar: Rp 5.652.880" in ind
    assert "Terlambat 3 hari" in ind and "4 Desember 2026" in ind
    assert "Late-payment penalty: IDR 18,780" in eng and "Paid 3 day(s) late" in eng
    assert "tepat waktu" in render(event("ClaimPaid"), "id", "Asia/Jakarta").text


def test_dispute_outcomes_and_reminders_are_worded_per_language() -> None:
    denied = event("ClaimDisputeResolved", outcome="denied", supplementary_amount=0)
    assert render(denied, "id", "Asia/Jakarta").subject.endswith(": ditolak")
    assert render(denied, "en", "Asia/Jakarta").subject.endswith(": denied")
    dispute = event("ClaimDeadlineReminder", deadline_kind="dispute")
    assert "batas pengajuan sengketa" in render(dispute, "id", "Asia/Jakarta").subject
    assert "dispute deadline" in render(dispute, "en", "Asia/Jakarta").subject


def test_operator_alerts_name_the_topic_error_and_receiver() -> None:
    dlq = render(dead_letter(), "id", "Asia/Jakarta")
    assert "claims.pended.dlq" in dlq.subject and "schema" in dlq.subject
    assert "Sumber: claims.pended partisi 3 offset 17" in dlq.text
    assert "\\xff\\xfe not json" in dlq.text
    fail = render(failed(), "en", "Asia/Jakarta")
    assert "https://rs.example" in fail.subject
    assert "after 10 attempt(s)" in fail.text
    assert "claimsctl notify log RS0301R001-2026-000123" in fail.text


def test_the_webhook_body_carries_the_message_and_the_event() -> None:
    ev = event("ClaimPended")
    notice = notice_of(ev, NOW)
    msg = render(ev, "id", "Asia/Jakarta")
    doc = json.loads(webhook_body(notice, msg, 9, "id"))
    assert doc["event_id"] == str(ev.event_id)
    assert doc["event_type"] == "ClaimPended"
    assert doc["kode_rs"] == "0301R001"
    assert doc["subscription_id"] == 9
    assert Message(doc["subject"], doc["text"]) == msg
    assert doc["data"]["payload"]["resubmit_by"] == "2026-11-19"


def test_alerts_get_stable_ids() -> None:
    assert dead_letter().alert_id == dead_letter().alert_id
    f = failed()
    assert f.alert_id == f.alert_id and notice_of(f, NOW).event_id == f.alert_id
    other = DeadLetterArrival.from_record("claims.pended.dlq", 0, 43, 1, None, None, [], NOW)
    assert other.alert_id != dead_letter().alert_id


def test_formatting_helpers() -> None:
    assert format_date(date(2026, 8, 17), "id") == "17 Agustus 2026"
    assert format_date(date(2026, 8, 17), "en", weekday=True) == "Monday, 17 August 2026"
    assert format_rupiah(5634100, "id") == "Rp 5.634.100"
    assert format_rupiah(5634100, "en") == "IDR 5,634,100"
    assert format_rupiah(-1500, "id") == "-Rp 1.500"
    assert format_instant(NOW, "id", "Asia/Jayapura") == "10 November 2026 pukul 12.00 WIT"
