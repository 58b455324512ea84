"""The event contract: committed schemas match the code, examples validate, bad input is named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.events import EVENT_TYPES, ClaimSubmitted, encode_event, event_type_name, parse_event
from shared.schemas import SCHEMA_DIR, render_schemas
from shared.topics import all_topics, dlq_topic

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "events"


def test_committed_schemas_match_the_code() -> None:
    rendered = render_schemas()
    committed = {p.name: p.read_text() for p in (ROOT / SCHEMA_DIR).glob("*.schema.json")}
    assert set(committed) == set(rendered), "run `make schemas` and commit docs/events/"
    for name, text in rendered.items():
        assert committed[name] == text, f"{name} differs from the code: run `make schemas`"


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=event_type_name)
def test_every_event_has_a_valid_worked_example(cls: type) -> None:
    raw = (EXAMPLES / f"{event_type_name(cls)}.json").read_bytes()
    event = parse_event(raw)
    assert type(event) is cls
    # The wire form round-trips to an equal event.
    assert parse_event(encode_event(event)) == event


def test_every_event_topic_has_a_dlq_and_is_created() -> None:
    names = {t.name for t in all_topics()}
    for cls in EVENT_TYPES:
        assert cls.topic in names
        assert dlq_topic(cls.topic) in names


def _submitted() -> dict:  # type: ignore[type-arg]
    data: dict = json.loads((EXAMPLES / "ClaimSubmitted.json").read_text())  # type: ignore[type-arg]
    return data


def test_unknown_fields_are_refused_and_named() -> None:
    doc = _submitted()
    doc["payload"]["claim"]["nomor_sepp"] = "x"
    with pytest.raises(ValidationError) as err:
        parse_event(json.dumps(doc))
    assert "nomor_sepp" in str(err.value)
    assert "Extra inputs are not permitted" in str(err.value)


def test_rupiah_must_be_integers() -> None:
    doc = _submitted()
    doc["payload"]["claim"]["tarif_rs"]["obat"] = 1500.5
    with pytest.raises(ValidationError) as err:
        parse_event(json.dumps(doc))
    assert "tarif_rs.obat" in str(err.value).replace("\n  ", ".")


def test_occurred_at_must_carry_a_zone_and_is_normalised_to_utc() -> None:
    doc = _submitted()
    doc["occurred_at"] = "2026-11-09T09:15:00"
    with pytest.raises(ValidationError):
        parse_event(json.dumps(doc))
    doc["occurred_at"] = "2026-11-09T09:15:00+07:00"
    event = parse_event(json.dumps(doc))
    assert event.occurred_at.isoformat() == "2026-11-09T02:15:00+00:00"


def test_event_type_selects_the_payload_model() -> None:
    doc = _submitted()
    doc["event_type"] = "ClaimPaid"
    with pytest.raises(ValidationError) as err:
        parse_event(json.dumps(doc))
    assert "ClaimPaid" in str(err.value)


def test_revision_cannot_be_negative() -> None:
    doc = _submitted()
    doc["payload"]["revision"] = -1
    with pytest.raises(ValidationError) as err:
        parse_event(json.dumps(doc))
    assert "revision" in str(err.value)


def test_key_is_the_claim_id() -> None:
    event = parse_event(json.dumps(_submitted()))
    assert isinstance(event, ClaimSubmitted)
    assert event.key == "RS0301R001-2026-000123"
