"""Signed operator commands and four-eyes money, on the real broker and database.

Every money command is signed by a test operator (tests/support/operators.py: a registry generated for
this process, given to the service by setting) and held until a second finance operator approves it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg
import pytest

from deploy.local import Stack
from services.payments.entrypoints.monitor import scheduled_run
from services.payments.service import SPEC
from shared.clock import FixedClock
from shared.events import (
    CapitationLine,
    CapitationRunRequested,
    CapitationRunRequestedPayload,
    ClaimPaid,
    ClaimVerified,
    ClaimVerifiedPayload,
    Envelope,
    FundsAllocated,
    FundsAllocatedPayload,
    PaymentRunRequested,
    PaymentRunRequestedPayload,
    parse_event,
)
from shared.operators import load_signer, parse_registry
from shared.topics import dlq_topic
from tests.support.kafka import eventually
from tests.support.operators import approved, operators
from tests.support.payments import payments_clock, payments_pool
from tests.support.services import Lane, running

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]

RUN_DAY = date(2026, 3, 2)  # a Monday; 03:00 UTC is 10:00 in Jakarta
# Three payables verified 19, 20 and 23 Feb 2026, due in March (15 working days later): on time on RUN_DAY
# (no penalty), and paid oldest due first in this order.
AMOUNTS = {"FE-0001": 4_000_000, "FE-0002": 3_000_000, "FE-0003": 2_000_000}
VERIFIED_ON = {"FE-0001": date(2026, 2, 19), "FE-0002": date(2026, 2, 20), "FE-0003": date(2026, 2, 23)}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[FixedClock]:
    yield from payments_clock(
        monkeypatch, datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
    )  # the test calls the scheduled run itself


@pytest.fixture
async def payments_db(lane: Lane) -> AsyncIterator[asyncpg.Pool]:
    async with payments_pool(lane) as pool:
        yield pool


def verified(claim_id: str, n: int) -> ClaimVerified:
    amount = AMOUNTS[claim_id]
    return ClaimVerified(
        occurred_at=datetime(2026, 2, 23, 3, 0, tzinfo=UTC), claim_id=claim_id, correlation_id=uuid.uuid4(),
        producer="verifier",
        payload=ClaimVerifiedPayload(
            revision=0, nomor_sep=f"0301R0010226V{n:06d}", kode_rs="0301R001", verification_seq=0,
            verified_on=VERIFIED_ON[claim_id], claimed_amount=amount, approved_amount=amount,
        ),
    )  # fmt: skip


def payables() -> list[ClaimVerified]:
    return [verified(claim_id, n) for n, claim_id in enumerate(AMOUNTS, start=1)]


def run_request(run_id: str, funds: int) -> PaymentRunRequested:
    return PaymentRunRequested(
        occurred_at=datetime(2026, 3, 2, 2, 0, tzinfo=UTC), correlation_id=uuid.uuid4(), producer="unsigned",
        payload=PaymentRunRequestedPayload(run_id=run_id, funds=funds, requested_by="unsigned"),
    )  # fmt: skip


def allocation(allocation_id: str, amount: int) -> FundsAllocated:
    return FundsAllocated(
        occurred_at=datetime(2026, 3, 2, 1, 0, tzinfo=UTC), correlation_id=uuid.uuid4(), producer="unsigned",
        payload=FundsAllocatedPayload(
            allocation_id=allocation_id, business_date=RUN_DAY, amount=amount, allocated_by="unsigned"
        ),
    )  # fmt: skip


async def settled(lane: Lane, pool: asyncpg.Pool, sent: list[Envelope]) -> None:
    """Until payments committed past everything sent and published everything it wrote."""
    spec = lane.isolate(SPEC)
    await eventually(lambda: lane.consumed(spec))

    async def outbox_empty() -> bool:
        return not await pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")

    await eventually(outbox_empty)


async def dead_letters(lane: Lane) -> dict[str, tuple[str, str]]:
    """The payments commands' dead letters: event id → (dlq.error, dlq.reason)."""
    out = {}
    for rec in await lane.records(dlq_topic("payments.commands")):
        headers = {k: v.decode() for k, v in rec.headers}
        event_id = str(uuid.UUID(json.loads(rec.value)["event_id"]))
        out[event_id] = (headers["dlq.error"], headers["dlq.reason"])
    return out


async def payments_made(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM payments"))


async def test_requested_by_one_finance_operator_and_approved_by_another_pays_once_with_both_names(
    lane: Lane, clock: FixedClock, payments_db: asyncpg.Pool
) -> None:
    request, approval = approved(run_request("RUN-4EYES", 10_000_000), maker="test.maker", approver="test.approver")
    async with running(lane.isolate(SPEC), lane.settings()):
        await lane.publish(payables())
        await lane.publish([request])
        await settled(lane, payments_db, [request])
        assert await payments_made(payments_db) == 0, "a request alone is held: nothing is paid"
        await lane.publish([approval])
        # The same approval published again, and a second approver approving too: paid once all the same.
        again = operators().approval(request, "test.approver2")
        await lane.publish([approval, again])
        await settled(lane, payments_db, [approval, again])
        await eventually(lambda: _paid_events(lane, 3))
    paid = [e for e in await lane.events("claims.paid") if isinstance(e, ClaimPaid)]
    # 4,000,000 + 3,000,000 + 2,000,000 = 9,000,000 <= 10,000,000: all three, each once.
    assert sorted(e.claim_id for e in paid) == ["FE-0001", "FE-0002", "FE-0003"]
    assert {(e.payload.requested_by, e.payload.approved_by) for e in paid} == {("test.maker", "test.approver")}
    assert {e.causation_id for e in paid} == {approval.event_id}
    run = await payments_db.fetchrow("SELECT requested_by, approved_by, paid_total FROM payment_runs")
    assert run is not None and dict(run) == {
        "requested_by": "test.maker",
        "approved_by": "test.approver",
        "paid_total": 9_000_000,
    }
    audit = await payments_db.fetchrow(
        "SELECT subject_kind, subject_id, requested_by, requested_event_id, approved_by, approved_event_id"
        " FROM held_commands"
    )
    assert audit is not None and dict(audit) == {
        "subject_kind": "payment_run", "subject_id": "RUN-4EYES", "requested_by": "test.maker",
        "requested_event_id": request.event_id, "approved_by": "test.approver", "approved_event_id": approval.event_id,
    }  # fmt: skip
    assert await dead_letters(lane) == {}


async def test_unknown_key_reviewer_unsigned_altered_or_self_approved_runs_pay_nothing(
    lane: Lane, clock: FixedClock, payments_db: asyncpg.Pool
) -> None:
    kit = operators()
    unknown = kit.sign(run_request("RUN-UNKNOWN-KEY", 10_000_000), signer=kit.outsider)
    by_reviewer = kit.sign(run_request("RUN-REVIEWER", 10_000_000), "test.reviewer")
    unsigned = run_request("RUN-UNSIGNED", 10_000_000)
    signed = kit.sign(run_request("RUN-ALTERED", 1_000_000))
    altered = signed.model_copy(update={"payload": signed.payload.model_copy(update={"funds": 10_000_000})})
    self_request = kit.sign(run_request("RUN-SELF", 10_000_000), "test.both")  # holds maker and approver roles
    self_approval = kit.approval(self_request, "test.both")
    # A correct approval of a request that was refused has nothing to approve.
    approval_of_unknown = kit.approval(unknown)
    sent: list[Envelope] = [unknown, by_reviewer, unsigned, altered, self_request, self_approval, approval_of_unknown]
    async with running(lane.isolate(SPEC), lane.settings()):
        await lane.publish(payables())
        await lane.publish(sent)
        await settled(lane, payments_db, sent)
    assert await payments_made(payments_db) == 0
    assert await lane.records("claims.paid") == []
    assert await payments_db.fetchval("SELECT count(*) FROM payment_runs") == 0
    letters = await dead_letters(lane)
    key = unknown.signature.key_id  # type: ignore[union-attr]
    assert letters[str(unknown.event_id)] == (
        "unauthorized",
        f"signature.key_id: {key} is not in operator registry test-session (rule KNOWN-KEY)",
    )
    assert letters[str(by_reviewer.event_id)] == (
        "unauthorized",
        "producer: operator test.reviewer (roles reviewer) may not issue PaymentRunRequested, which needs "
        "finance_maker (rule COMMAND-ROLES)",
    )
    assert letters[str(unsigned.event_id)] == (
        "unauthorized",
        "producer: 'unsigned' is no operator: commands come from operator:<id> (rule OPERATOR-PRODUCER)",
    )
    error, reason = letters[str(altered.event_id)]
    assert (error, reason.startswith("signature.value: does not verify with key")) == ("unauthorized", True)
    error, reason = letters[str(self_approval.event_id)]
    assert error == "unauthorized"
    assert "test.both requested payment_run RUN-SELF and may not approve it" in reason
    assert "(rule FOUR-EYES)" in reason
    assert letters[str(approval_of_unknown.event_id)][0] == "approval-unknown-subject"
    assert len(letters) == 6  # the self-requested run itself was valid: it is held, unapproved
    held = await payments_db.fetch("SELECT subject_id, requested_by, approved_by FROM held_commands")
    assert [dict(r) for r in held] == [{"subject_id": "RUN-SELF", "requested_by": "test.both", "approved_by": None}]


async def test_the_scheduled_run_pays_nothing_without_an_allocation_and_at_most_the_allocation(
    lane: Lane, clock: FixedClock, payments_db: asyncpg.Pool
) -> None:
    request, approval = approved(allocation("ALLOC-2026-03-02", 7_500_000))
    async with running(lane.isolate(SPEC), lane.settings()) as runtime:
        assert runtime.ctx is not None
        await lane.publish(payables())
        await lane.publish([request])  # allocated, not yet approved: not spendable
        await settled(lane, payments_db, [request])
        assert await scheduled_run(runtime.ctx, RUN_DAY) is None
        assert await payments_made(payments_db) == 0
        await lane.publish([approval])
        await settled(lane, payments_db, [approval])
        assert await scheduled_run(runtime.ctx, RUN_DAY) == "SCHED-2026-03-02"
        assert await scheduled_run(runtime.ctx, RUN_DAY) == "SCHED-2026-03-02"  # a second call pays nothing more
        await settled(lane, payments_db, [])
        await eventually(lambda: _paid_events(lane, 2))
    paid = [e for e in await lane.events("claims.paid") if isinstance(e, ClaimPaid)]
    # Oldest due first: 4,000,000 (due 12 Mar) then 3,000,000 (13 Mar) = 7,000,000; the 2,000,000 claim
    # (due 16 Mar) does not fit the 500,000 left of 7,500,000, and the run stops there.
    assert sorted((e.claim_id, e.payload.total_paid) for e in paid) == [("FE-0001", 4_000_000), ("FE-0002", 3_000_000)]
    assert {(e.payload.requested_by, e.payload.approved_by) for e in paid} == {("test.maker", "test.approver")}
    run = await payments_db.fetchrow(
        "SELECT funds, paid_total, remaining FROM payment_runs WHERE run_id = $1", "SCHED-2026-03-02"
    )
    assert run is not None and dict(run) == {"funds": 7_500_000, "paid_total": 7_000_000, "remaining": 500_000}


async def test_the_scheduled_run_with_no_allocation_at_all_pays_nothing(
    lane: Lane, clock: FixedClock, payments_db: asyncpg.Pool
) -> None:
    from services.payments import metrics

    before = metrics.SCHEDULED_RUNS_UNFUNDED._value.get()
    async with running(lane.isolate(SPEC), lane.settings()) as runtime:
        assert runtime.ctx is not None
        await lane.publish(payables())
        await eventually(lambda: _count(payments_db, "payables", 3))
        assert await scheduled_run(runtime.ctx, RUN_DAY) is None
    assert metrics.SCHEDULED_RUNS_UNFUNDED._value.get() == before + 1  # says so on /metrics
    assert await payments_made(payments_db) == 0
    assert await payments_db.fetchval("SELECT count(*) FROM payment_runs") == 0


async def _paid_events(lane: Lane, n: int) -> bool:
    return len(await lane.records("claims.paid")) >= n


async def _count(pool: asyncpg.Pool, table: str, n: int) -> bool:
    return int(await pool.fetchval(f"SELECT count(*) FROM {table}")) >= n


def claimsctl(lane: Lane, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """claimsctl as an operator runs it, on this lane's topics."""
    environment = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": lane.stack.bootstrap_servers,
                   "DATABASE_URL": lane.stack.database_url, "KAFKA_TOPIC_PREFIX": lane.prefix, **env}  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "shared.cli", *args], cwd=ROOT, env=environment, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip


async def test_claimsctl_signs_with_the_operators_key_file_and_the_run_waits_for_the_approver(
    lane: Lane, clock: FixedClock, payments_db: asyncpg.Pool, tmp_path: Path
) -> None:
    kit = operators()
    key_file = tmp_path / "test.maker.pem"
    key_file.write_bytes(kit.signer("test.maker").private_pem())
    unsigned = claimsctl(lane, "payments", "run", "--funds", "10000000", "--run-id", "RUN-CLI-NOKEY")
    assert unsigned.returncode == 2
    assert "commands are signed: give --operator ID and --key FILE" in unsigned.stderr
    async with running(lane.isolate(SPEC), lane.settings()):
        await lane.publish(payables())
        # Someone else's key: published, and refused by the services.
        wrong = claimsctl(lane, "payments", "run", "--funds", "10000000", "--run-id", "RUN-CLI-WRONG",
                          "--operator", "test.maker2", "--key", str(key_file))  # fmt: skip
        assert wrong.returncode == 0, wrong.stderr
        # The maker's own key, from the settings instead of options.
        run = claimsctl(lane, "payments", "run", "--funds", "10000000", "--run-id", "RUN-CLI",
                        CLAIMSCTL_OPERATOR="test.maker", CLAIMSCTL_OPERATOR_KEY=str(key_file))  # fmt: skip
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout)["requested_by"] == "test.maker"
        await settled(lane, payments_db, [])
        assert await payments_made(payments_db) == 0, "requested, not approved: nothing paid"
        held = await payments_db.fetch("SELECT subject_id, requested_by FROM held_commands")
        assert [dict(r) for r in held] == [{"subject_id": "RUN-CLI", "requested_by": "test.maker"}]
        request = await payments_db.fetchval("SELECT command::text FROM held_commands")
        await lane.publish([kit.approval(parse_event(request), "test.approver")])
        await eventually(lambda: _paid_events(lane, 3))
    paid = [e for e in await lane.events("claims.paid") if isinstance(e, ClaimPaid)]
    assert {(e.payload.payment_run_id, e.payload.requested_by, e.payload.approved_by) for e in paid} == {
        ("RUN-CLI", "test.maker", "test.approver")
    }
    (letter,) = [v for v in (await dead_letters(lane)).values()]
    signer_key = kit.signer("test.maker").key_id
    assert letter == (
        "unauthorized",
        f"signature.key_id: key {signer_key} belongs to test.maker, not to test.maker2 (rule OWN-KEY)",
    )


def test_claimsctl_keygen_writes_a_private_key_only_its_owner_reads_and_prints_its_registry_entry(
    stack: Stack, tmp_path: Path
) -> None:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap_servers, "DATABASE_URL": stack.database_url}
    result = subprocess.run(
        [sys.executable, "-m", "shared.cli", "operators", "keygen", "--operator", "finance.budi", "--name",
         "Budi Santoso", "--role", "finance_maker", "--out", str(tmp_path), "--valid-from", "2026-01-01T00:00:00Z"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    registry = parse_registry('version = "t"\n' + result.stdout)
    (operator,) = registry.operators
    (key,) = operator.keys
    assert (operator.id, operator.roles, key.valid_from) == (
        "finance.budi",
        ("finance_maker",),
        datetime(2026, 1, 1, tzinfo=UTC),
    )
    (key_file,) = tmp_path.iterdir()
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert load_signer("finance.budi", key_file).key_id == key.key_id


async def test_a_capitation_request_that_can_never_be_paid_is_refused_on_arrival_not_held(
    lane: Lane, clock: FixedClock, payments_db: asyncpg.Pool
) -> None:
    line = CapitationLine(
        kode_faskes="0301P001", facility_type="puskesmas", registered_members=1000, doctors=1, has_dentist=False,
        contact_rate_per_mille=160.0,  # one KBK indicator of three
    )  # fmt: skip
    request = operators().sign(
        CapitationRunRequested(
            occurred_at=datetime(2026, 3, 2, 2, 0, tzinfo=UTC), correlation_id=uuid.uuid4(), producer="unsigned",
            payload=CapitationRunRequestedPayload(run_id="CAP-BAD", month="2026-03", lines=[line], requested_by="x"),
        )
    )  # fmt: skip
    async with running(lane.isolate(SPEC), lane.settings()):
        await lane.publish([request])
        await settled(lane, payments_db, [request])
    assert await dead_letters(lane) == {
        str(request.event_id): (
            "capitation-indicators",
            "PermanentError: 0301P001: give all three KBK indicators or none",
        )
    }
    assert await payments_db.fetchval("SELECT count(*) FROM held_commands") == 0
