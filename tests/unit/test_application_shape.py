"""The kernel's application table: runs of one type in order, and a table that must match what is consumed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from shared.application import Application, IncompleteApplication, UnitOfWork, runs
from shared.events import ClaimGrouped, ClaimSubmitted, Envelope, ParticipantChanged, parse_event_obj
from tests.support.factories import example, submitted


def grouped() -> Envelope:
    return parse_event_obj(example("ClaimGrouped"))


def member() -> Envelope:
    return parse_event_obj(example("ParticipantChanged"))


def test_runs_cut_only_between_events_of_different_types_and_keep_the_order() -> None:
    a, b, c, d, e = submitted(), submitted(), member(), submitted(), grouped()
    assert [list(r) for r in runs([a, b, c, d, e])] == [[a, b], [c], [d], [e]]
    assert list(runs([])) == []


async def test_each_run_goes_to_its_types_handler_in_order() -> None:
    seen: list[tuple[str, int]] = []

    def recorder(name: str) -> Any:
        async def handle(uow: UnitOfWork, events: Sequence[Envelope]) -> None:
            seen.append((name, len(events)))

        return handle

    app: Application[UnitOfWork] = Application(
        "t", {ClaimSubmitted: recorder("submitted"), ParticipantChanged: recorder("member")}, UnitOfWork
    )
    await app.handle(UnitOfWork(None), [submitted(), member(), member(), submitted()])  # type: ignore[arg-type]
    assert seen == [("submitted", 1), ("member", 2), ("submitted", 1)]


def test_a_table_that_does_not_match_the_consumed_types_is_refused_naming_both_sides() -> None:
    async def nothing(uow: UnitOfWork, events: Sequence[Envelope]) -> None: ...

    app: Application[UnitOfWork] = Application("grouper", {ClaimGrouped: nothing}, UnitOfWork)
    with pytest.raises(IncompleteApplication) as refused:
        app.check_complete({"claims.submitted": (ClaimSubmitted,)})
    assert str(refused.value) == "grouper: no handler for ClaimSubmitted; handlers for types not consumed: ClaimGrouped"
