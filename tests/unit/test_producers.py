"""Who may produce on which topic: the kernel's producer check (issue: a forged ClaimVerified made money)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from shared.consumer import HOSPITAL_INPUT_TOPICS
from shared.events import Envelope, parse_event_obj
from shared.producers import check_producer
from shared.topics import EVENT_TOPICS
from tests.support.factories import example


def example_event(event_type: str) -> Envelope:
    return parse_event_obj(example(event_type))


@dataclass(frozen=True)
class On:
    topic: str


def test_an_outside_client_cannot_write_a_verified_claim() -> None:
    forged = example_event("ClaimVerified").model_copy(update={"producer": "hospital:0301R001"})
    refusal = check_producer(On("claims.verified"), forged)
    assert refusal is not None
    assert refusal.code == "unauthorized-producer"
    assert refusal.reason == "producer: 'hospital:0301R001' may not produce on claims.verified (allowed: verifier)"


def test_the_verifier_may() -> None:
    assert check_producer(On("claims.verified"), example_event("ClaimVerified")) is None


def test_a_hospital_speaks_only_for_itself() -> None:
    claim = example_event("ClaimSubmitted")  # hospital:0301R001, kode_rs 0301R001, SEP 0301R001...
    assert check_producer(On("claims.submitted"), claim) is None
    other = claim.model_copy(update={"producer": "hospital:0902R002"})
    refusal = check_producer(On("claims.submitted"), other)
    assert refusal is not None
    assert refusal.reason == "producer: hospital '0902R002' may not send for kode_rs '0301R001'"


def test_a_hospital_cannot_claim_a_sep_issued_to_another() -> None:
    doc = example("ClaimSubmitted")
    sep = "0902R0020226V000001"
    doc["payload"]["claim"]["nomor_sep"] = sep
    forged = parse_event_obj(doc)
    refusal = check_producer(On("claims.submitted"), forged)
    assert refusal is not None
    assert refusal.reason == f"producer: hospital '0301R001' may not send SEP '{sep}' issued to another"


def test_a_dispute_is_checked_like_a_claim() -> None:
    dispute = example_event("ClaimDisputed")
    assert check_producer(On("claims.disputed"), dispute) is None
    forged = dispute.model_copy(update={"producer": "grouper"})
    refusal = check_producer(On("claims.disputed"), forged)
    assert refusal is not None and refusal.code == "unauthorized-producer"


@pytest.mark.parametrize("topic", ["verifier.commands", "payments.commands", "test.anything"])
def test_topics_outside_the_table_are_not_checked_here(topic: str) -> None:
    # Commands are checked by their operator's signature, not by the producer name.
    assert check_producer(On(topic), example_event("ClaimVerified").model_copy(update={"producer": "x"})) is None


def test_the_topics_hospitals_write_are_the_ones_stamped_on_receipt() -> None:
    # The kernel replaces a hospital's received_at with BPJS's own on these topics, and the broker keeps
    # their append time: the two lists must not drift apart.
    stamped = {t.name for t in EVENT_TOPICS if t.log_append_time}
    assert stamped == {"claims.submitted", "claims.disputed"}
    assert stamped == HOSPITAL_INPUT_TOPICS
