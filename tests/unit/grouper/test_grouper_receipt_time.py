"""The grouper dates a revision by when BPJS received it (`received_at`), not by when it got round to it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from services.grouper.entrypoints.handlers import Grouper
from services.grouper.settings import GrouperSettings
from shared.clock import FixedClock
from shared.events import ClaimGrouped, ClaimSubmitted, Envelope
from shared.outbox import Tx
from shared.settings import PolicySettings
from tests.support.factories import submitted
from tests.unit.grouper.grouper_claim_factory import TABLES

JAKARTA = ZoneInfo("Asia/Jakarta")


class NoEarlierRevision:
    """The grouper's table as seen for a revision never answered before."""

    async def fetchval(self, *_: Any) -> None:
        return None

    async def execute(self, *_: Any) -> str:
        return "INSERT 0 1"


class Outbox:
    """What the grouper would write to its outbox."""

    def __init__(self) -> None:
        self.conn = NoEarlierRevision()
        self.emitted: list[Envelope] = []

    def emit(self, event: Envelope) -> None:
        self.emitted.append(event)


async def group(event: ClaimSubmitted, clock: FixedClock) -> ClaimGrouped:
    tx = Outbox()
    await Grouper(TABLES, PolicySettings(), GrouperSettings(), clock).on_submitted(cast(Tx, tx), event)
    (out,) = tx.emitted
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
