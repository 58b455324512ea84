"""What a payment run reads stays cheap as the ledger grows: the hospitals' receivables come from an index of
the few correction postings, not from a scan of every entry ever booked."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date

import asyncpg
import pytest

from deploy.local import Stack
from services.payments.adapters.ledger import SqlLedger
from services.payments.service import SPEC
from shared import db

pytestmark = pytest.mark.integration

ORDINARY = 30_000  # payables and payments of paid claims: what the ledger is made of


@pytest.fixture
async def pool(stack: Stack) -> AsyncIterator[asyncpg.Pool]:
    schema = f"scale_{uuid.uuid4().hex[:10]}"
    await db.migrate(stack.database_url, schema, *([SPEC.migrations] if SPEC.migrations else []))
    pool = await db.create_pool(stack.database_url, schema, min_size=1, max_size=1)
    try:
        yield pool
    finally:
        await pool.close()


async def test_receivables_are_read_from_the_correction_postings_alone(pool: asyncpg.Pool) -> None:
    day = date(2026, 3, 2)
    rows = [
        (f"E-{i}", "payment", "liability:payable:0301R001", "asset:bank", 1_000_000, day, "0301R001")
        for i in range(ORDINARY)
    ]
    rows += [  # a VEDIKA correction of 600,000 for one hospital, 250,000 of it recovered so far
        ("E-corr", "adjustment", "asset:receivable:0301R002", "expense:claims", 600_000, day, "0301R002"),
        ("E-rec", "payment", "liability:payable:0301R002", "asset:receivable:0301R002", 250_000, day, "0301R002"),
    ]
    async with pool.acquire() as conn:
        await conn.copy_records_to_table(
            "ledger_entries", records=rows,
            columns=["entry_id", "kind", "debit_account", "credit_account", "amount", "booked_on", "kode_rs"],
        )  # fmt: skip
        await conn.execute("ANALYZE ledger_entries")
        ledger = SqlLedger(conn, _nothing_to_settle)
        async with conn.transaction():  # the transaction's own table counters: what this one read did
            assert await ledger.receivables() == {"0301R002": 350_000}
            assert await _rows_read(conn) < 100, "the read scanned the ordinary postings"


async def _nothing_to_settle() -> None:
    return None


async def _rows_read(conn: db.Conn) -> int:
    """Rows of ledger_entries read by sequential scans in the current transaction."""
    value: int = await conn.fetchval(
        "SELECT coalesce(seq_tup_read, 0) FROM pg_stat_xact_user_tables WHERE relname = 'ledger_entries'"
    )
    return value
