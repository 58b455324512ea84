"""Showing and selecting dead letters: escaping, ids, `--since`, the headers a redrive publishes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from shared.dlq import DlqRecord, Original, RedriveOperation, event_id_of, original_headers, parse_id, parse_since
from shared.escaping import escape_bytes, printable

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_control_and_format_characters_are_written_as_escapes() -> None:
    assert printable("a\x00b\x1b[31mc\u202ed\u2028") == "a\\x00b\\x1b[31mc\\u202ed\\u2028"
    assert printable("line\nnext\ttab", keep="\n") == "line\nnext\\x09tab"
    assert printable("Rp 4.821.700 — ok é") == "Rp 4.821.700 — ok é"


def test_bytes_are_shown_as_utf8_where_valid_and_escaped_where_not_and_cut_with_a_note() -> None:
    assert escape_bytes(b"\xff\xfe not json") == "\\xff\\xfe not json"
    assert escape_bytes(b"C-\x00-1") == "C-\\x00-1"
    assert escape_bytes(b"x" * 3000, 2048) == "x" * 2048 + "… [3000 bytes, first 2048 shown]"
    assert escape_bytes("éé".encode(), 3) == "é… [4 bytes, first 3 shown]"  # a character cut in half is held back
    assert escape_bytes(None) == "" and escape_bytes(b"") == ""


def test_since_takes_an_age_or_an_instant_and_names_the_option_when_it_is_neither() -> None:
    assert parse_since("2h", NOW) == datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
    assert parse_since("7d", NOW) == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    assert parse_since("2026-11-30", NOW) == datetime(2026, 11, 30, tzinfo=UTC)
    assert parse_since("2026-11-30T08:00:00+07:00", NOW) == datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="--since"):
        parse_since("yesterday", NOW)


def test_a_dead_letter_is_named_by_its_dlq_topic_and_offset() -> None:
    assert parse_id("claims.submitted.dlq:12") == ("claims.submitted.dlq", 0, 12)
    assert parse_id("claims.submitted.dlq", 12) == ("claims.submitted.dlq", 0, 12)
    assert parse_id("claims.submitted:0:12") == ("claims.submitted.dlq", 0, 12)
    with pytest.raises(ValueError, match="ID"):
        parse_id("claims.submitted.dlq:twelve")
    letter = DlqRecord("prod.claims.submitted.dlq", 0, 12, 0, b"C-1", b"{}", (), prefix="prod.")
    assert (letter.id, letter.source_topic) == ("claims.submitted.dlq:12", "claims.submitted")


def test_the_event_id_is_read_only_from_a_json_event() -> None:
    event_id = uuid.UUID("0b8e6f7c-3d1a-4c2e-9f51-8a7d6c5b4e3f")
    assert event_id_of(b'{"event_id": "0b8e6f7c-3d1a-4c2e-9f51-8a7d6c5b4e3f"}') == event_id
    assert event_id_of(b"[" * 100_000) is None  # deep nesting: no RecursionError
    assert event_id_of(b"\xff\xfe") is None
    assert event_id_of(b'{"event_id": "not-a-uuid"}') is None


def test_a_redrive_keeps_the_senders_headers_and_names_itself() -> None:
    headers = (("traceparent", b"00-x"), ("redrive.id", b"old"), ("dlq.error", b"handler-error"))
    assert original_headers(headers) == (("traceparent", b"00-x"),)
    op = RedriveOperation(by="ani", prefix="", dry_run=False, redrive_id=uuid.UUID(int=1), at=NOW)
    letter = DlqRecord("claims.submitted.dlq", 0, 7, 0, b"C-1", b"{}", headers)
    assert op.redrive_headers(letter, Original(b"C-1", b"{}", original_headers(headers))) == [
        ("traceparent", b"00-x"),
        ("redrive.id", b"00000000-0000-0000-0000-000000000001"),
        ("redrive.by", b"ani"),
        ("redrive.at", b"2026-12-01T09:00:00+00:00"),
        ("redrive.dlq.offset", b"7"),
    ]
