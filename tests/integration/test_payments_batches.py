"""Payments batches on the real database through the real kernel: a batch of verified claims, and a payment run,
cost the same number of statements whatever their size; and a batch mixing every kind of event applies each in
its order, a later one seeing what an earlier one wrote."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime

import asyncpg
import pytest

from deploy.local import Stack
from services.payments.adapters.repository import account_balances
from services.payments.adapters.unit_of_work import PaymentsUnitOfWork
from services.payments.application import application
from services.payments.application.config import Config
from services.payments.application.runs import RunOrder, execute_run
from services.payments.service import SPEC
from services.payments.settings import PaymentsSettings
from shared import db
from shared.clock import FixedClock
from shared.consumer import BatchProcessor, RecordView
from shared.events import (
    ClaimVerified,
    ClaimVerifiedPayload,
    Envelope,
    PaymentCorrectionRequested,
    PaymentCorrectionRequestedPayload,
    PaymentRunRequested,
    PaymentRunRequestedPayload,
    encode_event,
)
from shared.metrics import BATCHES_ISOLATED
from shared.operators import approval_of
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


async def test_one_batch_of_claims_runs_and_a_correction_applies_each_in_order_seeing_the_earlier_ones(
    payments: tuple[asyncpg.Pool, str, Statements],
) -> None:
    pool, schema, _ = payments
    clock = FixedClock(datetime(2026, 5, 4, 3, 0, tzinfo=UTC))  # 10:00 in Jakarta, Mon 4 May 2026
    app = application(Config(PolicySettings(), PaymentsSettings(), clock))
    processor = BatchProcessor(pool, schema, "payments", SPEC.consumes[0].accepted, app, clock=clock)
    # C-1's upheld dispute (verified 20 Apr: due 12 May on its own) arrives before its main verification.
    supplementary = dated(verified("C-1", seq=1), date(2026, 4, 20), 3_000_000)
    main, other = (
        dated(verified("C-1"), date(2026, 2, 25), 6_000_000),
        dated(verified("C-2"), date(2026, 2, 25), 2_000_000),
    )
    first_run, second_run = run_command("R-1", 3_000_000), run_command("R-2", 10_000_000)
    vedika = PaymentCorrectionRequested(
        occurred_at=clock.now(), claim_id="C-1", correlation_id=uuid.uuid4(), producer="operator:finance.maker",
        payload=PaymentCorrectionRequestedPayload(
            correction_id="VEDIKA-1", verification_seq=1, recover_amount=1_000_000, reason="LOS",
            requested_by="finance.maker",
        ),
    )  # fmt: skip
    events: list[Envelope] = [
        supplementary, first_run, approval_of(first_run, "finance.approver", clock.now()),  # R-1 pays the supplementary
        main, other,  # due 25 Mar; the supplementary, paid already, is not backdated
        vedika, approval_of(vedika, "finance.approver", clock.now()),  # recovers from the payment just made
        second_run, approval_of(second_run, "finance.approver", clock.now()),  # nets the recovery from C-1's main
    ]  # fmt: skip
    isolated = BATCHES_ISOLATED.labels("payments")._value.get()
    result = await processor.process([record(n, e) for n, e in enumerate(events)])
    assert (result.applied, result.dead_letters) == (len(events), 0)
    assert BATCHES_ISOLATED.labels("payments")._value.get() == isolated  # applied as one batch
    due = {(r["claim_id"], r["verification_seq"]): r["due_on"] for r in await pool.fetch("SELECT * FROM payables")}
    assert due == {("C-1", 1): date(2026, 5, 12), ("C-1", 0): date(2026, 3, 25), ("C-2", 0): date(2026, 3, 25)}
    paid = [
        tuple(r) for r in await pool.fetch(
            """SELECT p.claim_id, p.verification_seq, x.run_id, x.penalty, x.total_paid, x.recovered
               FROM payments x JOIN payables p ON p.id = x.payable_id ORDER BY x.payment_id"""
        )
    ]  # fmt: skip
    # 40 days late on 4 May: 6,000,000 x 1 % x 40/30 = 80,000; 2,000,000 x 1 % x 40/30 = 26,666.67 -> 26,667.
    assert paid == [
        ("C-1", 1, "R-1", 0, 3_000_000, 0),
        ("C-1", 0, "R-2", 80_000, 6_080_000, 1_000_000),
        ("C-2", 0, "R-2", 26_667, 2_026_667, 0),
    ]
    runs = {
        r["run_id"]: tuple(r)[1:]
        for r in await pool.fetch("SELECT run_id, paid_count, paid_total, remaining FROM payment_runs")
    }
    assert runs == {"R-1": (1, 3_000_000, 0), "R-2": (2, 7_106_667, 2_893_333)}
    async with pool.acquire() as conn:
        balances = await account_balances(conn)
    assert balances["asset:receivable:0301R001"] == 0 and sum(balances.values()) == 0


def dated(event: ClaimVerified, on: date, amount: int) -> ClaimVerified:
    update = {"verified_on": on, "claimed_amount": amount, "approved_amount": amount}
    return event.model_copy(update={"payload": event.payload.model_copy(update=update)})


def run_command(run_id: str, funds: int) -> PaymentRunRequested:
    return PaymentRunRequested(
        occurred_at=datetime(2026, 5, 4, 2, 0, tzinfo=UTC), correlation_id=uuid.uuid4(),
        producer="operator:finance.maker",
        payload=PaymentRunRequestedPayload(run_id=run_id, funds=funds, requested_by="finance.maker"),
    )  # fmt: skip


def record(offset: int, event: Envelope) -> RecordView:
    topic = "claims.verified" if isinstance(event, ClaimVerified) else "payments.commands"
    return RecordView(topic, 0, offset, event.key.encode(), encode_event(event), ())
