"""A dead letter's original header names are always sendable: one that was not UTF-8 is written escaped."""

from __future__ import annotations

from shared.consumer import DeadLetter, RecordView, dead_letter_row


def letter(*headers: tuple[str, bytes]) -> DeadLetter:
    return DeadLetter(RecordView("claims.submitted", 0, 7, b"C-1", b"junk", headers), "schema", "(document): bad")


def test_a_name_that_was_not_utf8_is_sent_as_its_bytes_escaped_and_marked() -> None:
    row = dead_letter_row(letter(("\udcff\udcfe-name", b"v"), ("trace", b"t")), "grouper")

    assert row.headers[:2] == (("\\xff\\xfe-name", b"v"), ("trace", b"t"))
    assert row.headers[-1] == ("dlq.headers-escaped", b"1")
    for name, _ in row.headers:
        name.encode("utf-8")  # a producer can send every name


def test_a_lone_surrogate_no_decoder_made_is_escaped_as_the_character() -> None:
    row = dead_letter_row(
        letter(
            ("x\ud800", b"v"),
        ),
        "grouper",
    )

    assert row.headers[0] == ("x\\ud800", b"v")
    assert ("dlq.headers-escaped", b"1") in row.headers


def test_ordinary_names_are_kept_as_they_are_and_not_marked() -> None:
    row = dead_letter_row(letter(("trace", b"t"), ("nama-é", b"u")), "grouper")

    assert row.headers[:2] == (("trace", b"t"), ("nama-é", b"u"))
    assert all(name != "dlq.headers-escaped" for name, _ in row.headers)
    assert row.value == b"junk"
