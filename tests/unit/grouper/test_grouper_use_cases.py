"""The grouper's use case on a batch, with an in-memory unit of work: each revision answered once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from services.grouper.adapters.repository import Answer
from services.grouper.application import Grouper, application, content_hash
from services.grouper.settings import GrouperSettings
from shared.clock import FixedClock
from shared.events import ClaimGrouped, ClaimRejected, ClaimSubmitted
from shared.settings import PolicySettings
from tests.support.factories import submitted
from tests.unit.grouper.fakes import FakeUnitOfWork
from tests.unit.grouper.grouper_claim_factory import TABLES

GROUPER = Grouper(TABLES, PolicySettings(), GrouperSettings(), FixedClock(datetime(2026, 11, 19, 3, 0, tzinfo=UTC)))


def claim(claim_id: str | None = None, **changes: object) -> ClaimSubmitted:
    event = submitted(claim_id, **changes)
    assert isinstance(event, ClaimSubmitted)
    return event


def resent(event: ClaimSubmitted) -> ClaimSubmitted:
    """The same revision sent again (a new event id, same content)."""
    return event.model_copy(update={"event_id": uuid.uuid4()})


async def test_a_batch_of_new_claims_is_grouped_with_one_read_and_every_answer_remembered() -> None:
    events = [claim() for _ in range(5)]
    uow = FakeUnitOfWork()
    await GROUPER.submitted(uow, events)
    assert [type(e) for e in uow.emitted] == [ClaimGrouped] * 5
    assert [e.claim_id for e in uow.emitted] == [e.claim_id for e in events]  # in the order received
    assert uow.answers.reads == 1
    assert [(a.claim_id, a.outcome) for a in uow.answers.added] == [(e.claim_id, "grouped") for e in events]


async def test_a_revision_resent_in_the_same_batch_is_answered_once() -> None:
    first = claim()
    uow = FakeUnitOfWork()
    await GROUPER.submitted(uow, [first, resent(first)])
    assert len(uow.emitted) == 1 and len(uow.answers.added) == 1


async def test_a_revision_answered_in_an_earlier_batch_is_not_answered_again() -> None:
    first = claim()
    stored = Answer(first.claim_id, 0, content_hash(first), "grouped", "K-1-10-I", 1, [], "v", uuid.uuid4())
    uow = FakeUnitOfWork([stored])
    await GROUPER.submitted(uow, [resent(first)])
    assert uow.emitted == [] and uow.answers.added == []


async def test_a_revision_number_reused_with_other_content_is_refused_and_the_first_answer_stands() -> None:
    first = claim()
    changed = claim(first.claim_id, diagnosa=["K35.8", "E11.9"])
    uow = FakeUnitOfWork()
    await GROUPER.submitted(uow, [first, changed])
    grouped, refused = uow.emitted
    assert isinstance(grouped, ClaimGrouped)
    assert isinstance(refused, ClaimRejected) and refused.payload.refusal
    assert [r.code for r in refused.payload.reasons] == ["G-REVISION-REUSED"]
    assert len(uow.answers.added) == 1


async def test_an_invalid_claim_is_rejected_and_its_reasons_remembered() -> None:
    bad = claim(diagnosa=["A97.1"])  # dengue as ICD-10 2019 spells it, not in the 2010 edition
    uow = FakeUnitOfWork()
    await GROUPER.submitted(uow, [bad])
    (out,) = uow.emitted
    assert isinstance(out, ClaimRejected) and not out.payload.refusal
    (answer,) = uow.answers.added
    assert answer.outcome == "rejected" and answer.reason_codes == [r.code for r in out.payload.reasons]


def test_the_table_names_every_consumed_type_and_nothing_else() -> None:
    app = application(GROUPER)
    assert set(app.handlers) == {ClaimSubmitted}
