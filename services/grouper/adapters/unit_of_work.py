"""The grouper's unit of work: the batch's transaction and the answers repository it owns."""

from __future__ import annotations

from services.grouper.adapters.repository import SqlAnswers
from shared.application import UnitOfWork
from shared.outbox import Tx


class GrouperUnitOfWork(UnitOfWork):
    def __init__(self, tx: Tx) -> None:
        super().__init__(tx)
        self.answers = SqlAnswers(tx.conn)

    async def flush(self) -> None:
        await self.answers.flush()
