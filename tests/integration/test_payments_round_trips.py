"""Per-batch I/O on the real database: a batch of verified claims, and a payment run, cost the same number of
statements whatever their size (the kernel's inbox and outbox included)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime

import asyncpg
import pytest

from deploy.local import Stack
from services.payments.adapters.unit_of_work import PaymentsUnitOfWork
from services.payments.application import application
from services.payments.application.config import Config
from services.payments.application.runs import RunOrder, execute_run
from services.payments.service import SPEC
from services.payments.settings import PaymentsSettings
from shared import db
from shared.clock import FixedClock
from shared.consumer import BatchProcessor, RecordView
from shared.events import ClaimVerified, ClaimVerifiedPayload, encode_event
from shared.outbox import Tx
from shared.settings import PolicySettings

pytestmark = pytest.mark.integration

CLOCK = FixedClock(datetime(2026, 3, 2, 3, 0, tzinfo=UTC))  # 10:00 in Jakarta
CONFIG = Config(PolicySettings(), PaymentsSettings(), CLOCK)
# What the connection pool itself sends when a connection is released, not part of the batch.
POOL_RESET = ("SELECT pg_advisory_unlock_all", "CLOSE ALL", "UNLISTEN", "RESET ALL", "SET SESSION")
KERNEL = ("BEGIN", "COMMIT", "INSERT INTO inbox", "INSERT INTO outbox", "SELECT pg_notify")


def verified(claim: str, seq: int = 0) -> ClaimVerified:
    on, amount = (date(2026, 4, 20), 500_000) if seq else (date(2026, 2, 23), 1_000_000)
    return ClaimVerified(
        occurred_at=datetime(2026, 3, 2, tzinfo=UTC), claim_id=claim, correlation_id=uuid.uuid4(), producer="verifier",
        payload=ClaimVerifiedPayload(
            revision=0, nomor_sep=f"0301R0010326V{claim[-6:]}", kode_rs="0301R001", verification_seq=seq,
            verified_on=on, claimed_amount=amount, approved_amount=amount,
        ),
    )  # fmt: skip


class Statements:
    """Every statement the service's one connection sends."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def __call__(self, record: asyncpg.connection.LoggedQuery) -> None:
        if not record.query.lstrip().startswith(POOL_RESET):
            self.sent.append(" ".join(record.query.split()[:3]))


@pytest.fixture
async def payments(stack: Stack) -> AsyncIterator[tuple[asyncpg.Pool, str, Statements]]:
    schema = f"rt_{uuid.uuid4().hex[:10]}"
    await db.migrate(stack.database_url, schema, *([SPEC.migrations] if SPEC.migrations else []))
    pool = await db.create_pool(stack.database_url, schema, min_size=1, max_size=1)
    statements = Statements()
    async with pool.acquire() as conn:
        conn.add_query_logger(statements)
    try:
        yield pool, schema, statements
    finally:
        await pool.close()


def own(statements: list[str]) -> list[str]:
    """The payments service's own statements, without the kernel's transaction, inbox and outbox."""
    return [s for s in statements if not s.startswith(KERNEL)]


async def batch(processor: BatchProcessor, events: Sequence[ClaimVerified], statements: Statements) -> list[str]:
    before = len(statements.sent)
    records = [
        RecordView("claims.verified", 0, n, e.claim_id.encode(), encode_event(e), ()) for n, e in enumerate(events)
    ]
    result = await processor.process(records)
    assert result.dead_letters == 0
    return statements.sent[before:]


async def run(pool: asyncpg.Pool, schema: str, run_id: str, statements: Statements) -> list[str]:
    before = len(statements.sent)
    async with pool.acquire() as conn, conn.transaction():
        tx = Tx(conn, schema)
        uow = PaymentsUnitOfWork(tx)
        assert await execute_run(CONFIG, uow, RunOrder(run_id, 10**12, "finance.maker", "finance.approver", None))
        await uow.flush()
        await tx.flush()
    return statements.sent[before:]


async def test_a_batch_of_verified_claims_and_a_payment_run_cost_the_same_statements_whatever_their_size(
    payments: tuple[asyncpg.Pool, str, Statements],
) -> None:
    pool, schema, statements = payments
    processor = BatchProcessor(pool, schema, "payments", SPEC.consumes[0].accepted, application(CONFIG), clock=CLOCK)
    # Warm up the connection (asyncpg reads each array type's definition once per connection).
    await batch(processor, [verified("W-000000"), verified("W-000000", seq=1)], statements)
    await run(pool, schema, "R-WARM", statements)

    sizes = {"small": 10, "large": 100}
    mains = {k: [verified(f"{k[0]}-{i:06d}") for i in range(n)] for k, n in sizes.items()}
    new = {k: await batch(processor, mains[k], statements) for k in sizes}
    supplementary = {k: await batch(processor, [verified(e.claim_id, 1) for e in mains[k]], statements) for k in sizes}
    replayed = {
        k: await batch(processor, [e.model_copy(update={"event_id": uuid.uuid4()}) for e in mains[k]], statements)
        for k in sizes
    }
    assert new["small"] == new["large"]
    assert own(new["large"]) == [
        "WITH new AS",  # the payables, inserted with the backdating of supplementaries that came first
        "INSERT INTO ledger_entries",
    ]
    assert supplementary["small"] == supplementary["large"]
    assert own(supplementary["large"]) == ["SELECT claim_id, due_on", "WITH new AS", "INSERT INTO ledger_entries"]
    assert replayed["small"] == replayed["large"]
    assert own(replayed["large"]) == ["WITH new AS", "SELECT p.claim_id, p.verification_seq,"]  # compared, absorbed

    paid_all = await run(pool, schema, "R-ALL", statements)  # everything open: 110 claims, 2 verifications each
    await batch(processor, [verified(f"x-{i:06d}") for i in range(10)], statements)
    paid_ten = await run(pool, schema, "R-TEN", statements)  # the 10 claims verified since
    assert await pool.fetchval("SELECT count(*) FROM payments WHERE run_id = 'R-ALL'") == 220
    assert await pool.fetchval("SELECT count(*) FROM payments WHERE run_id = 'R-TEN'") == 10
    assert paid_all == paid_ten
    assert own(paid_all) == [
        "SELECT pg_advisory_xact_lock($1)", "INSERT INTO payment_runs", "SELECT p.id, p.claim_id,",
        "SELECT account, sum(amount)::bigint", "SELECT nextval('payment_number') AS", "INSERT INTO payments",
        "UPDATE payment_runs r", "UPDATE payables p", "INSERT INTO ledger_entries",
    ]  # fmt: skip
