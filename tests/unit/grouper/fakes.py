"""An in-memory unit of work for the grouper's use cases (no database)."""

from __future__ import annotations

from collections.abc import Iterable

from services.grouper.adapters.repository import Answer, Revision
from shared.events import Envelope


class FakeAnswers:
    def __init__(self, stored: Iterable[Answer] = ()) -> None:
        self.stored = {(a.claim_id, a.revision): a for a in stored}
        self.added: list[Answer] = []
        self.reads = 0

    async def hashes(self, keys: Iterable[Revision]) -> dict[Revision, str]:
        self.reads += 1
        return {k: self.stored[k].content_hash for k in keys if k in self.stored}

    def add(self, answer: Answer) -> None:
        self.added.append(answer)


class FakeUnitOfWork:
    def __init__(self, stored: Iterable[Answer] = ()) -> None:
        self.answers = FakeAnswers(stored)
        self.emitted: list[Envelope] = []

    def emit(self, event: Envelope) -> None:
        self.emitted.append(event)
