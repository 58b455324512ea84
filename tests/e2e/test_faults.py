"""Faults on the real stack, services as real processes: each run must end like a clean one.

Every test drives the same flow (members, claims in waves, one payment run, the run requested
again) while something breaks, then checks: every claim verified once, paid once, one
`claims.paid` per payment, the run applied once, the ledger balanced, and no dead letters.

A fault "in the middle of the payment run" is placed without timing: the test holds a lock on
the payments ledger, so the run's transaction stops at its first ledger entry (its first payment
written, nothing committed) until the fault has been done.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

from deploy.local import Stack
from services.simulator.scenario import Kind, claim_for, hospital_code, member_for
from shared.events import (
    ClaimPaid,
    ClaimSubmitted,
    ClaimSubmittedPayload,
    Envelope,
    ParticipantChanged,
    PaymentRunRequested,
    PaymentRunRequestedPayload,
    parse_event,
)
from shared.kafka_read import read_topic
from shared.topics import EVENT_TOPICS, dlq_topic
from tests.support.cluster import (
    Cluster,
    crash_postgres,
    new_cluster,
    pause,
    restart_postgres,
    resume,
    start_crashed_postgres,
)
from tests.support.kafka import group_members, produce
from tests.support.operators import approved, sign

pytestmark = pytest.mark.e2e

CLAIMS = 300
SERVICES = ("grouper", "verifier", "payments")
TODAY = date(2026, 3, 2)
RUN_ID = "FAULT-RUN"


@pytest.fixture
async def cluster(stack: Stack) -> AsyncIterator[Cluster]:
    c = await new_cluster(stack, "2026-03-02T03:00:00+00:00")  # 10:00 in Jakarta
    try:
        yield c
    finally:
        c.stop_all()


def workload(n: int) -> tuple[list[ParticipantChanged], list[ClaimSubmitted]]:
    """n members and one clean claim each, from four hospitals."""
    rng = random.Random(n)
    members, claims = [], []
    now = datetime.now(UTC)
    for i in range(n):
        kode_rs = hospital_code(i % 4)
        card = f"{2000000000000 + i:013d}"
        sep = f"{kode_rs}0326V{i:06d}"
        members.append(
            ParticipantChanged(
                occurred_at=now,
                correlation_id=uuid.uuid4(),
                producer="membership",
                payload=member_for(card, i, inactive=False),
            )
        )
        claim = claim_for(rng, kode_rs, card, sep, TODAY - timedelta(days=3), Kind.CLEAN)
        claims.append(
            ClaimSubmitted(
                occurred_at=now,
                claim_id=f"F-{i:05d}",
                correlation_id=uuid.uuid4(),
                producer=f"hospital:{kode_rs}",
                payload=ClaimSubmittedPayload(revision=0, claim=claim),
            )
        )
    return members, claims


async def publish(cluster: Cluster, events: list[Envelope]) -> None:
    by_topic: dict[str, list[Envelope]] = {}
    for e in events:
        by_topic.setdefault(e.topic, []).append(e)
    for topic, items in by_topic.items():
        await produce(cluster.stack.bootstrap_servers, cluster.prefix + topic, items)


async def count(cluster: Cluster, sql: str, schema: str) -> int:
    """A count from one service's schema; 0 while the schema or the database is not there (yet)."""
    try:
        conn = await asyncpg.connect(cluster.database_url, server_settings={"search_path": schema}, timeout=2)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return -1
    try:
        return int(await conn.fetchval(sql))
    except asyncpg.PostgresError:
        return -1
    finally:
        await conn.close()


async def fetch(cluster: Cluster, schema: str, sql: str) -> list[asyncpg.Record]:
    """Rows from one service's schema (the database must be up)."""
    conn = await asyncpg.connect(cluster.database_url, server_settings={"search_path": schema}, timeout=5)
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()


class LedgerHold:
    """A transaction of the test's holding the payments ledger, so a payment run stops inside its transaction.

    SHARE mode lets readers through but not the run's first INSERT into `ledger_entries`, which
    comes after its `payment_runs` row, its locks on the open payables and its first payment row.
    """

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.conn: asyncpg.Connection | None = None

    async def hold(self) -> None:
        self.conn = await asyncpg.connect(self.cluster.database_url, server_settings={"search_path": "payments"})
        await self.conn.execute("BEGIN")
        await self.conn.execute("LOCK TABLE ledger_entries IN SHARE MODE")

    async def wait_until_a_run_is_blocked(self) -> None:
        """Poll until another session waits for the ledger: the run has begun and cannot commit."""
        sql = """SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE NOT l.granted AND c.relname = 'ledger_entries' AND n.nspname = 'payments'"""
        await at_least(self.cluster, "payments", sql, 1, within=60)

    async def release(self) -> None:
        """Roll back (closing the connection); a no-op when the server took the connection down with it."""
        conn, self.conn = self.conn, None
        if conn is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.close(), 5)
        if not conn.is_closed():
            conn.terminate()


async def until(check: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"not within {within} s: {what}")


async def at_least(cluster: Cluster, schema: str, sql: str, n: int, within: float = 120) -> None:
    async def check() -> bool:
        return await count(cluster, sql, schema) >= n

    await until(check, within, f"{schema}: {sql} >= {n}")


async def flow(cluster: Cluster, fault: Callable[[str], Awaitable[None]]) -> None:
    """Members, three waves of claims, a payment run; `fault(step)` is called between the steps."""
    members, claims = workload(CLAIMS)
    await publish(cluster, list(members))
    await at_least(cluster, "verifier", "SELECT count(*) FROM participants", CLAIMS)
    third = CLAIMS // 3
    for wave in range(3):
        await publish(cluster, list(claims[wave * third : (wave + 1) * third if wave < 2 else CLAIMS]))
        await fault(f"wave-{wave}")
    await at_least(cluster, "payments", "SELECT count(*) FROM payables", CLAIMS, within=180)
    run, approval = approved(PaymentRunRequested(
        occurred_at=datetime.now(UTC), correlation_id=uuid.uuid4(), producer="finance",
        payload=PaymentRunRequestedPayload(run_id=RUN_ID, funds=10**13, requested_by="test"),
    ))  # fmt: skip
    await fault("before-run")
    await publish(cluster, [run, approval])  # a finance maker's request and another finance operator's approval
    await fault("run")
    await at_least(cluster, "payments", "SELECT count(*) FROM payments", CLAIMS, within=180)
    again = sign(run.model_copy(update={"event_id": uuid.uuid4()}))  # the same run id, requested again
    await publish(cluster, [again])
    # Consumed, not merely published: payments records its event id once it has handled it.
    await at_least(cluster, "payments", f"SELECT count(*) FROM inbox WHERE event_id = '{again.event_id}'", 1)
    for schema in SERVICES:  # everything written, by the repeat too, has been published
        await at_least(cluster, schema, "SELECT count(*) = 0 FROM outbox WHERE sent_at IS NULL", 1)


async def assert_clean_outcome(cluster: Cluster) -> None:
    """Every claim verified once and paid once, finance sees one payment per claim, no dead letters."""
    assert await count(cluster, "SELECT count(*) FROM claims WHERE state = 'verified'", "verifier") == CLAIMS
    assert await count(cluster, "SELECT count(*) FROM payables", "payments") == CLAIMS
    assert await count(cluster, "SELECT count(*) FROM payments", "payments") == CLAIMS
    assert await count(cluster, "SELECT count(*) FROM payables WHERE payment_id IS NULL", "payments") == 0
    runs = [tuple(r) for r in await fetch(cluster, "payments", "SELECT run_id, paid_count FROM payment_runs")]
    assert runs == [(RUN_ID, CLAIMS)], "the run, requested twice, is applied once and pays every payable"
    await assert_ledger_balances(cluster)
    bootstrap = cluster.stack.bootstrap_servers
    paid = [parse_event(r.value) for r in await read_topic(bootstrap, cluster.prefix + "claims.paid")]
    table = {r["payment_id"] for r in await fetch(cluster, "payments", "SELECT payment_id FROM payments")}
    assert {e.payload.payment_id for e in paid if isinstance(e, ClaimPaid)} == table, "claims.paid != payments"
    for topic in ("claims.verified", "claims.paid"):
        events = [parse_event(r.value) for r in await read_topic(bootstrap, cluster.prefix + topic)]
        # A relay killed between the broker's ack and its mark republishes the same event (same id):
        # consumers dedupe by event_id. What must never happen is a second, different event.
        ids_per_claim: dict[str, set[uuid.UUID]] = {}
        for e in events:
            assert e.claim_id is not None
            ids_per_claim.setdefault(e.claim_id, set()).add(e.event_id)
        assert len(ids_per_claim) == CLAIMS, topic
        assert all(len(ids) == 1 for ids in ids_per_claim.values()), f"{topic}: a claim got two different events"
    for t in EVENT_TOPICS:
        assert await read_topic(bootstrap, cluster.prefix + dlq_topic(t.name)) == [], dlq_topic(t.name)


async def assert_ledger_balances(cluster: Cluster) -> None:
    """Debits equal credits, every payable booked once and paid once, nothing owed any more."""
    per_payable = await fetch(
        cluster, "payments",
        """SELECT count(*) FILTER (WHERE kind = 'payable') AS booked, count(*) FILTER (WHERE kind = 'payment') AS paid
           FROM payables p LEFT JOIN ledger_entries e ON e.payable_id = p.id GROUP BY p.id""",
    )  # fmt: skip
    assert len(per_payable) == CLAIMS
    assert {(r["booked"], r["paid"]) for r in per_payable} == {(1, 1)}
    balances = {
        r["account"]: r["balance"]
        for r in await fetch(
            cluster, "payments",
            """SELECT account, sum(amount)::bigint AS balance FROM (
                 SELECT debit_account AS account, amount FROM ledger_entries
                 UNION ALL SELECT credit_account, -amount FROM ledger_entries) e GROUP BY account""",
        )
    }  # fmt: skip
    (owed,) = await fetch(cluster, "payments", "SELECT sum(amount)::bigint AS total FROM payables")
    assert sum(balances.values()) == 0  # debits == credits
    assert {a: b for a, b in balances.items() if a.startswith("liability:")} == {
        f"liability:payable:{hospital_code(i)}": 0 for i in range(4)
    }, "a hospital is still owed, or was paid more than it was owed"
    # The run is on the day the claims were verified, weeks before they fall due: no penalty, cash = owed.
    assert balances["asset:cash:bpjs"] == -owed["total"]
    assert balances["expense:claims:fkrtl"] == owed["total"]
    assert "expense:late-penalty" not in balances


def start_all(cluster: Cluster, instances: int = 1) -> None:
    for name in SERVICES:
        for _ in range(instances):
            cluster.start(name)


async def test_sigkill_each_service_in_turn_mid_run(cluster: Cluster) -> None:
    start_all(cluster)
    victims = {"wave-0": "grouper", "wave-1": "verifier"}
    ledger = LedgerHold(cluster)

    async def fault(step: str) -> None:
        if step == "before-run":
            await ledger.hold()
        elif step == "run":
            await kill_payments_before_then_after_the_run_commits(cluster, ledger)
        elif step in victims:
            name = victims[step]
            schema, table = {"grouper": ("grouper", "groupings"), "verifier": ("verifier", "claims")}[name]
            before = await count(cluster, f"SELECT count(*) FROM {table}", schema)
            await at_least(cluster, schema, f"SELECT count(*) FROM {table}", before + 1)  # it is mid-work
            cluster.kill(name)
            cluster.start(name)

    try:
        await flow(cluster, fault)
    finally:
        await ledger.release()
    assert cluster.alive()
    await assert_clean_outcome(cluster)


async def assert_run_not_committed(cluster: Cluster) -> None:
    """The run is inside its transaction: none of it is visible yet."""
    assert await count(cluster, "SELECT count(*) FROM payment_runs", "payments") == 0
    assert await count(cluster, "SELECT count(*) FROM payments", "payments") == 0


async def kill_payments_before_then_after_the_run_commits(cluster: Cluster, ledger: LedgerHold) -> None:
    # Before: the run has written its first payment but cannot commit (the test holds the ledger).
    await ledger.wait_until_a_run_is_blocked()
    await assert_run_not_committed(cluster)
    cluster.kill("payments")
    await ledger.release()  # the dead instance's transaction can only roll back now: it never sends COMMIT
    cluster.start("payments")  # the run command was not committed past: the new instance applies it
    # After: the run committed (all of it, one transaction) and its claims.paid are being relayed.
    await at_least(cluster, "payments", "SELECT count(*) FROM payments", 1)
    cluster.kill("payments")
    cluster.start("payments")


async def test_postgresql_restarted_mid_run(cluster: Cluster, stack: Stack) -> None:
    start_all(cluster)

    async def fault(step: str) -> None:
        if step == "wave-1":
            await at_least(cluster, "verifier", "SELECT count(*) FROM claims", 1)
            restart_postgres(stack)

    await flow(cluster, fault)
    assert cluster.alive()
    await assert_clean_outcome(cluster)


async def test_broker_paused_longer_than_the_session_timeout(cluster: Cluster, stack: Stack) -> None:
    start_all(cluster)
    broker = stack.broker_process
    assert broker is not None, "pausing the broker needs the embedded stack"

    async def fault(step: str) -> None:
        if step == "wave-1":
            pause(broker)
            try:
                await asyncio.sleep(10)  # the outage itself: longer than the 6 s session timeout
            finally:
                resume(broker)

    await flow(cluster, fault)
    assert cluster.alive()
    await assert_clean_outcome(cluster)


async def test_postgresql_killed_with_sigkill_mid_payment_run(cluster: Cluster, stack: Stack) -> None:
    # The local server trades durability for speed (synchronous_commit=off): a server killed then may lose
    # commits it acknowledged. Production runs PostgreSQL's default, so this database does too.
    admin = await asyncpg.connect(stack.database_url)
    try:
        await admin.execute(f'ALTER DATABASE "{cluster.database_name}" SET synchronous_commit = on')
    finally:
        await admin.close()
    start_all(cluster)
    ledger = LedgerHold(cluster)

    async def fault(step: str) -> None:
        if step == "before-run":
            await ledger.hold()
        elif step == "run":
            await ledger.wait_until_a_run_is_blocked()
            await assert_run_not_committed(cluster)
            crash_postgres(stack)  # the server and every backend, the run's and the test's lock with them
            await ledger.release()
            start_crashed_postgres(stack)  # same data directory and port: crash recovery, then ready

    try:
        await flow(cluster, fault)
    finally:
        await ledger.release()
        proc = stack.postgres_process
        if proc is not None and proc.poll() is not None:
            start_crashed_postgres(stack)  # the session's other tests need their server back
    assert cluster.alive()
    await assert_clean_outcome(cluster)


async def all_instances_joined(cluster: Cluster, instances: int) -> None:
    """Each service's consumer group is stable with every instance in it, before any input arrives."""
    for name in SERVICES:

        async def joined(group: str = cluster.prefix + name) -> bool:
            try:
                return await group_members(cluster.stack.bootstrap_servers, group) == ("Stable", instances)
            except Exception:  # the coordinator does not know the group yet
                return False

        await until(joined, 120, f"{name}: {instances} instances in the consumer group")


async def test_two_instances_of_each_service(cluster: Cluster) -> None:
    start_all(cluster, instances=2)
    await all_instances_joined(cluster, 2)

    async def fault(step: str) -> None:
        return None

    await flow(cluster, fault)
    await assert_clean_outcome(cluster)
    for name in SERVICES:  # both got partitions and did part of the work
        applied = [await cluster.events_applied(proc) for proc in cluster.procs[name]]
        assert len(applied) == 2 and min(applied) > 0, f"{name}: events applied per instance {applied}"
