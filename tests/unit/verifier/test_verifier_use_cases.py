"""The verifier's use cases on batches, with an in-memory unit of work.

The worked example (examples/events/ClaimGrouped.json: an appendectomy, consent attached) is verified
for a member on file; the same claims decided one batch at a time must come out as they would one by one.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from services.verifier.application import Verifier, application, verification_policy
from shared.clock import FixedClock
from shared.events import (
    ClaimDisputed,
    ClaimGrouped,
    ClaimRejected,
    ClaimVerified,
    ParticipantChanged,
    parse_event_obj,
)
from shared.settings import PolicySettings
from tests.support.factories import example
from tests.unit.verifier.fakes import FakeUnitOfWork

MONDAY = date(2026, 11, 9)
CARD = "0001234567890"  # the example member's card
VERIFIER = Verifier(verification_policy(PolicySettings()), FixedClock(datetime(2026, 11, 9, 2, 0, tzinfo=UTC)))


def member(card: str = CARD) -> ParticipantChanged:
    doc = example("ParticipantChanged")
    doc["event_id"] = str(uuid.uuid4())
    doc["payload"]["nomor_kartu"] = card
    event = parse_event_obj(doc)
    assert isinstance(event, ParticipantChanged)
    return event


def grouped(claim_id: str, sep: str, *, card: str = CARD) -> ClaimGrouped:
    doc = example("ClaimGrouped")
    doc.update(event_id=str(uuid.uuid4()), claim_id=claim_id, correlation_id=str(uuid.uuid4()))
    doc["payload"].update(revision=0, submitted_on=MONDAY.isoformat())
    doc["payload"]["claim"].update(nomor_kartu=card, nomor_sep=sep)
    event = parse_event_obj(doc)
    assert isinstance(event, ClaimGrouped)
    return event


def sep(n: int) -> str:
    return f"0301R0011126V{n:06d}"


async def with_member() -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    await VERIFIER.participant_changed(uow, [member()])
    return uow


async def test_a_batch_of_clean_claims_is_verified_with_one_load_and_one_context_read() -> None:
    uow = FakeUnitOfWork()
    cards = [f"000123456780{i}" for i in range(3)]  # three members: one stay each
    await VERIFIER.participant_changed(uow, [member(c) for c in cards])
    await VERIFIER.grouped(uow, [grouped(f"C-{i}", sep(i), card=c) for i, c in enumerate(cards)])
    assert [(type(e), e.claim_id) for e in uow.emitted] == [(ClaimVerified, f"C-{i}") for i in range(3)]
    assert uow.claims.reads == {"load": 1, "contexts": 1}
    assert {c: str(r.status.state) for c, r in uow.claims.rows.items()} == {f"C-{i}": "verified" for i in range(3)}


async def test_two_claims_of_one_sep_in_one_batch_are_paid_once_the_second_is_a_duplicate() -> None:
    uow = await with_member()
    await VERIFIER.grouped(uow, [grouped("C-1", sep(1)), grouped("C-2", sep(1))])
    first, second = uow.emitted
    assert isinstance(first, ClaimVerified) and first.claim_id == "C-1"
    assert isinstance(second, ClaimRejected) and second.claim_id == "C-2"
    assert [r.code for r in second.payload.reasons] == ["V-DUP-SEP"]


async def test_a_sep_verified_in_an_earlier_batch_makes_the_next_claim_a_duplicate() -> None:
    uow = await with_member()
    await VERIFIER.grouped(uow, [grouped("C-1", sep(1))])
    await VERIFIER.grouped(uow, [grouped("C-2", sep(1))])
    assert [type(e) for e in uow.emitted] == [ClaimVerified, ClaimRejected]


async def test_a_member_unknown_to_the_projection_is_rejected_naming_the_rule() -> None:
    uow = FakeUnitOfWork()
    await VERIFIER.grouped(uow, [grouped("C-1", sep(1), card="0009999999999")])
    (out,) = uow.emitted
    assert isinstance(out, ClaimRejected)
    assert "V-ELIG-UNKNOWN" in [r.code for r in out.payload.reasons]


async def test_a_membership_change_earlier_in_the_batch_counts_for_the_claims_after_it() -> None:
    uow = FakeUnitOfWork()
    await VERIFIER.participant_changed(uow, [member("0007777777777")])
    await VERIFIER.grouped(uow, [grouped("C-1", sep(1), card="0007777777777")])
    assert [type(e) for e in uow.emitted] == [ClaimVerified]


async def test_a_second_stay_of_one_member_overlapping_the_first_in_the_same_batch_is_held_for_review() -> None:
    uow = await with_member()
    await VERIFIER.grouped(uow, [grouped("C-1", sep(1)), grouped("C-2", sep(2))])
    assert [(type(e), e.claim_id) for e in uow.emitted] == [(ClaimVerified, "C-1")]
    assert str(uow.claims.rows["C-2"].status.state) == "in_review"


async def test_every_input_and_output_is_in_the_claims_history_in_order() -> None:
    uow = await with_member()
    await VERIFIER.grouped(uow, [grouped("C-1", sep(1))])
    assert uow.history.lines == [
        ("C-1", "in", "ClaimGrouped"),
        ("C-1", "finding", None),
        ("C-1", "out", "ClaimVerified"),
    ]


async def test_a_dispute_of_a_claim_never_grouped_is_refused_as_unknown() -> None:
    doc = example("ClaimDisputed")
    doc.update(event_id=str(uuid.uuid4()), claim_id="C-404")
    event = parse_event_obj(doc)
    assert isinstance(event, ClaimDisputed)
    uow = FakeUnitOfWork()
    await VERIFIER.disputed(uow, [event])
    (out,) = uow.emitted
    assert isinstance(out, ClaimRejected) and [r.code for r in out.payload.reasons] == ["V-STATE-UNKNOWN-CLAIM"]


def test_the_table_names_every_consumed_type() -> None:
    assert sorted(t.__name__ for t in application(VERIFIER).handlers) == [
        "ClaimDisputed", "ClaimGrouped", "DisputeResolutionRequested", "ParticipantChanged", "ReviewDecisionRequested",
    ]  # fmt: skip


@pytest.mark.parametrize("missing", [ClaimDisputed, ParticipantChanged])
def test_a_table_missing_a_consumed_type_stops_the_service(missing: type) -> None:
    from services.verifier.service import SPEC
    from shared.application import IncompleteApplication

    app = application(VERIFIER)
    partial = type(app)(app.name, {t: h for t, h in app.handlers.items() if t is not missing}, app.unit_of_work)
    with pytest.raises(IncompleteApplication, match=f"no handler for {missing.__name__}"):
        partial.check_complete(SPEC.consumes[0].accepted)
