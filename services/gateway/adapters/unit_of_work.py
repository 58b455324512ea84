"""The gateway's unit of work: one transaction, the repositories it owns, the events it will publish."""

from __future__ import annotations

from collections.abc import Iterable

from services.gateway.adapters.repository import SqlDrafts, SqlIdempotency, SqlViews, lock_claims
from shared.application import UnitOfWork
from shared.outbox import Tx


class GatewayUnitOfWork(UnitOfWork):
    def __init__(self, tx: Tx) -> None:
        super().__init__(tx)
        self.drafts = SqlDrafts(tx.conn)
        self.views = SqlViews(tx.conn)
        self.answers = SqlIdempotency(tx.conn)

    async def lock_claims(self, claim_ids: Iterable[str]) -> None:
        """The claims' locks, in the one order the intake and the consumer share."""
        await lock_claims(self.tx.conn, claim_ids)

    async def flush(self) -> None:
        await self.drafts.flush()
        await self.views.flush()
        await self.answers.flush()
