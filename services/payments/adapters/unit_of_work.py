"""The payments unit of work: the batch's transaction and the repositories it owns, one per aggregate."""

from __future__ import annotations

from services.payments.adapters.approvals import SqlHeldCommands
from services.payments.adapters.capitation import SqlCapitation
from services.payments.adapters.ledger import SqlLedger
from services.payments.adapters.payables import SqlPayables
from services.payments.adapters.runs import SqlAllocations, SqlPaymentRuns
from shared.application import UnitOfWork
from shared.outbox import Tx


class PaymentsUnitOfWork(UnitOfWork):
    def __init__(self, tx: Tx) -> None:
        super().__init__(tx)
        # Every repository's reads first flush what the others hold: a later run of the batch sees the earlier.
        self.payables = SqlPayables(tx.conn, self.flush)
        self.ledger = SqlLedger(tx.conn, self.flush)
        self.runs = SqlPaymentRuns(tx.conn, tx.schema, self.flush)
        self.allocations = SqlAllocations(tx.conn)
        self.capitation = SqlCapitation(tx.conn, self.flush)
        self.held = SqlHeldCommands(tx.conn, self.flush)

    async def flush(self) -> None:
        """One multi-row statement per table with pending rows (each refers only to rows already written)."""
        await self.runs.flush()
        await self.payables.flush()
        await self.ledger.flush()
        await self.capitation.flush()
        await self.held.flush()
        await self.allocations.flush()
