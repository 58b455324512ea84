"""The kernel's pure decisions, without a broker or a database: why a record is refused, what its dead
letter carries, and which PostgreSQL errors are worth a retry."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import asyncpg
import pytest

from shared.clock import FixedClock
from shared.consumer import DeadLetter, RecordView, dead_letter_row, decode, is_transient
from shared.envelopes import originate
from shared.events import Envelope, ParticipantChanged, ParticipantChangedPayload, encode_event

TOPIC = "participants.changed"
CARD = "0001234567890"
ACCEPTS: dict[str, tuple[type[Envelope], ...]] = {TOPIC: (ParticipantChanged,)}


def participant() -> ParticipantChanged:
    payload = ParticipantChangedPayload(
        nomor_kartu=CARD, nik="3171234567890001", status="active", kelas_hak=2, member_type="PPU",
        valid_from=date(2026, 1, 1),
    )  # fmt: skip
    return originate(
        ParticipantChanged, payload, producer="membership", clock=FixedClock(datetime(2026, 3, 2, tzinfo=UTC))
    )


def record(value: bytes | None, *, key: bytes | None = CARD.encode(), topic: str = TOPIC) -> RecordView:
    return RecordView(topic, 3, 41, key, value, (("trace", b"t-1"),))


def refusal(result: Envelope | DeadLetter) -> tuple[str, str]:
    assert isinstance(result, DeadLetter), f"expected a dead letter, got {result!r}"
    return result.error, result.reason


def test_a_well_formed_record_on_its_topic_decodes_to_its_event() -> None:
    event = participant()

    decoded = decode(record(encode_event(event)), ACCEPTS)

    assert isinstance(decoded, ParticipantChanged)
    assert decoded.event_id == event.event_id
    assert decoded.payload.nomor_kartu == CARD


@pytest.mark.parametrize("value", [None, b""])
def test_an_empty_record_is_refused_as_empty(value: bytes | None) -> None:
    assert refusal(decode(record(value), ACCEPTS)) == ("empty", "record has no value")


def test_a_record_over_the_limit_is_refused_unparsed_naming_size_limit_and_setting() -> None:
    value = b"{" + b" " * 99 + b"}"  # 101 bytes, not even valid as an event: never parsed

    assert refusal(decode(record(value), ACCEPTS, max_record_bytes=100)) == (
        "too-large",
        "(record): 101 bytes exceeds the limit of 100 (KAFKA_MAX_RECORD_BYTES)",
    )


def test_a_record_at_the_limit_is_parsed() -> None:
    value = encode_event(participant())

    assert isinstance(decode(record(value), ACCEPTS, max_record_bytes=len(value)), ParticipantChanged)


def test_a_missing_field_is_refused_as_schema_naming_the_field_and_the_rule() -> None:
    doc = json.loads(encode_event(participant()))
    del doc["payload"]["nik"]

    assert refusal(decode(record(json.dumps(doc).encode()), ACCEPTS)) == (
        "schema",
        "ParticipantChanged.payload.nik: Field required",
    )


def test_a_record_keyed_by_anything_but_its_event_key_is_refused_as_wrong_key() -> None:
    assert refusal(decode(record(encode_event(participant()), key=b"C-1"), ACCEPTS)) == (
        "wrong-key",
        "key must be '0001234567890' (ParticipantChanged.key), got 'C-1'",
    )


def test_a_record_without_a_key_is_refused_as_wrong_key() -> None:
    assert refusal(decode(record(encode_event(participant()), key=None), ACCEPTS)) == (
        "wrong-key",
        "key must be '0001234567890' (ParticipantChanged.key), got None",
    )


def test_an_event_on_a_topic_that_does_not_carry_it_is_refused_as_wrong_topic() -> None:
    accepts: dict[str, tuple[type[Envelope], ...]] = {"claims.submitted": (), TOPIC: (ParticipantChanged,)}

    assert refusal(decode(record(encode_event(participant()), topic="claims.submitted"), accepts)) == (
        "wrong-topic",
        "ParticipantChanged is not accepted on claims.submitted (accepts nothing)",
    )


def test_a_dead_letter_keeps_key_bytes_and_headers_and_names_error_consumer_and_source() -> None:
    rec = record(b"not json")
    row = dead_letter_row(DeadLetter(rec, "schema", "(document): Invalid JSON"), "grouper")

    assert row.topic == "participants.changed.dlq"
    assert row.key == CARD.encode()
    assert row.value == b"not json"
    assert row.headers == (
        ("trace", b"t-1"),
        ("dlq.error", b"schema"),
        ("dlq.reason", b"(document): Invalid JSON"),
        ("dlq.consumer", b"grouper"),
        ("dlq.source.topic", b"participants.changed"),
        ("dlq.source.partition", b"3"),
        ("dlq.source.offset", b"41"),
    )


def test_a_dead_letter_reason_is_cut_at_4000_characters() -> None:
    row = dead_letter_row(DeadLetter(record(b"x"), "schema", "r" * 5000), "grouper")

    assert dict(row.headers)["dlq.reason"] == b"r" * 4000


def test_an_empty_record_is_dead_lettered_with_an_empty_value() -> None:
    row = dead_letter_row(DeadLetter(record(None), "empty", "record has no value"), "verifier")

    assert row.value == b""
    assert dict(row.headers)["dlq.consumer"] == b"verifier"


def postgres_error(sqlstate: str) -> asyncpg.PostgresError:
    error = asyncpg.PostgresError.new({"C": sqlstate, "M": f"server said {sqlstate}"})
    assert isinstance(error, asyncpg.PostgresError)
    return error


@pytest.mark.parametrize(
    "sqlstate",
    [
        "08006",  # connection failure
        "08P01",  # protocol violation: class 08
        "40001",  # serialization failure
        "40P01",  # deadlock detected
        "53300",  # too many connections
        "53200",  # out of memory: class 53
        "57P01",  # admin shutdown (a restart)
        "55P03",  # lock not available
    ],
)
def test_errors_a_retry_can_cure_are_transient(sqlstate: str) -> None:
    assert is_transient(postgres_error(sqlstate))


@pytest.mark.parametrize(
    "sqlstate",
    [
        "23505",  # unique violation: the same input fails the same way again
        "22P02",  # invalid text representation
        "55000",  # object not in prerequisite state: only 55P03 of class 55 is a lock wait
    ],
)
def test_errors_the_input_causes_are_not_transient(sqlstate: str) -> None:
    assert not is_transient(postgres_error(sqlstate))


def test_a_plain_exception_is_not_transient() -> None:
    assert not is_transient(ValueError("bad input"))
