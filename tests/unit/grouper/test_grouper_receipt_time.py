"""The grouper dates a revision by when BPJS received it (`received_at`), not by when it got round to it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from services.grouper.application import Grouper
from services.grouper.settings import GrouperSettings
from shared.clock import FixedClock
from shared.events import ClaimGrouped, ClaimSubmitted
from shared.settings import PolicySettings
from tests.support.factories import submitted
from tests.unit.grouper.fakes import FakeUnitOfWork
from tests.unit.grouper.grouper_claim_factory import TABLES

JAKARTA = ZoneInfo("Asia/Jakarta")


async def group(event: ClaimSubmitted, clock: FixedClock) -> ClaimGrouped:
    uow = FakeUnitOfWork()
    await Grouper(TABLES, PolicySettings(), GrouperSettings(), clock).submitted(uow, [event])
    (out,) = uow.emitted
    assert isinstance(out, ClaimGrouped), out
    return out


def received(at: datetime | None) -> ClaimSubmitted:
    event = submitted()
    assert isinstance(event, ClaimSubmitted)
    return event.model_copy(update={"received_at": at})


async def test_received_at_2359_and_grouped_at_0030_is_submitted_the_earlier_day() -> None:
    at = datetime(2026, 11, 18, 23, 59, tzinfo=JAKARTA)
    out = await group(received(at), FixedClock(datetime(2026, 11, 19, 0, 30, tzinfo=JAKARTA)))
    assert out.payload.submitted_on == date(2026, 11, 18)
    assert out.received_at == datetime(2026, 11, 18, 16, 59, tzinfo=UTC)  # carried on for the verifier


async def test_received_at_0001_is_submitted_that_day() -> None:
    out = await group(
        received(datetime(2026, 11, 19, 0, 1, tzinfo=JAKARTA)), FixedClock(datetime(2026, 11, 19, 0, 30, tzinfo=UTC))
    )
    assert out.payload.submitted_on == date(2026, 11, 19)


async def test_without_received_at_the_grouper_is_the_first_to_receive_it_and_says_when() -> None:
    clock = FixedClock(datetime(2026, 11, 19, 0, 30, tzinfo=JAKARTA))
    out = await group(received(None), clock)
    assert out.payload.submitted_on == date(2026, 11, 19)
    assert out.received_at == datetime(2026, 11, 18, 17, 30, tzinfo=UTC)
