"""The console's unit of work: one transaction, its repositories, the signed commands it will publish."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from services.console.adapters.repository import SqlAccounts, SqlActions, SqlGuards, SqlSessions
from shared.application import UnitOfWork
from shared.db import Pool
from shared.outbox import Tx


class ConsoleUnitOfWork(UnitOfWork):
    def __init__(self, tx: Tx) -> None:
        super().__init__(tx)
        self.accounts = SqlAccounts(tx.conn)
        self.guards = SqlGuards(tx.conn)
        self.sessions = SqlSessions(tx.conn)
        self.actions = SqlActions(tx.conn)


@asynccontextmanager
async def unit_of_work(pool: Pool, schema: str) -> AsyncIterator[ConsoleUnitOfWork]:
    """One transaction: what the use case writes and the outbox rows of what it emits commit together."""
    async with pool.acquire() as conn, conn.transaction():
        tx = Tx(conn, schema)
        uow = ConsoleUnitOfWork(tx)
        yield uow
        await uow.flush()
        await tx.flush()
