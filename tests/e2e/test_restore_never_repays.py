"""A restore never re-pays: the real payments process, `claimsctl backup` and `claimsctl restore`, the real broker.

Pay some claims, back up, verify and pay more, stop payments, restore the older backup, start payments and
run again. The restored database has forgotten the second run; claims.paid (which outlives the database)
has not. The service rebuilds those payments before it may run, so nothing is paid twice, the ledger balances,
and the payments made after the backup are back in the database with their ids, amounts and dates.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from deploy.local import Stack
from shared.events import (
    ClaimPaid,
    ClaimVerified,
    ClaimVerifiedPayload,
    Envelope,
    PaymentRunRequested,
    PaymentRunRequestedPayload,
    parse_event,
)
from shared.kafka_read import read_topic
from tests.support.cluster import ROOT, Cluster, new_cluster
from tests.support.kafka import eventually, produce
from tests.support.operators import approved

pytestmark = pytest.mark.e2e

TODAY = date(2026, 3, 2)  # the fixed business day: runs on the day of verification, no penalty
RS = "0301R001"
AMOUNT = 1_000_000  # every claim's approved amount


@pytest.fixture
async def cluster(stack: Stack) -> AsyncIterator[Cluster]:
    c = await new_cluster(stack, "2026-03-02T03:00:00+00:00")  # 10:00 in Jakarta
    try:
        yield c
    finally:
        c.stop_all()


def verified(i: int) -> ClaimVerified:
    return ClaimVerified(
        occurred_at=datetime.now(UTC), claim_id=f"RST-{i:03d}", correlation_id=uuid.uuid4(), producer="verifier",
        payload=ClaimVerifiedPayload(
            revision=0, nomor_sep=f"{RS}0326V{i:06d}", kode_rs=RS, verification_seq=0, verified_on=TODAY,
            claimed_amount=AMOUNT, approved_amount=AMOUNT,
        ),
    )  # fmt: skip


def run(run_id: str, funds: int) -> list[Envelope]:
    """A finance maker's signed run request and a second finance operator's approval."""
    return approved(PaymentRunRequested(
        occurred_at=datetime.now(UTC), correlation_id=uuid.uuid4(), producer="finance",
        payload=PaymentRunRequestedPayload(run_id=run_id, funds=funds, requested_by="test"),
    ))  # fmt: skip


async def publish(cluster: Cluster, events: list[Envelope]) -> None:
    for topic in dict.fromkeys(e.topic for e in events):  # in order, topic by topic
        items = [e for e in events if e.topic == topic]
        await produce(cluster.stack.bootstrap_servers, cluster.prefix + topic, items)


async def value(cluster: Cluster, sql: str) -> object:
    conn = await asyncpg.connect(cluster.database_url, server_settings={"search_path": "payments"})
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def rows(cluster: Cluster, sql: str) -> list[tuple[Any, ...]]:
    conn = await asyncpg.connect(cluster.database_url, server_settings={"search_path": "payments"})
    try:
        return [tuple(r) for r in await conn.fetch(sql)]
    finally:
        await conn.close()


async def settled(cluster: Cluster, payments: int) -> None:
    """`payments` payments in the database and every claims.paid relayed (nothing left in the outbox)."""

    async def done() -> bool:
        try:
            return await value(cluster, "SELECT count(*) FROM payments") == payments and await value(
                cluster, "SELECT count(*) FROM outbox WHERE sent_at IS NULL"
            ) == 0  # fmt: skip
        except (OSError, asyncpg.PostgresError):
            return False  # the service has not migrated its schema yet

    await eventually(done, within=60)


def claimsctl(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    """`claimsctl ARGS` as an operator runs it, on the cluster's database and broker."""
    env = {**cluster.env(), "SERVICE_LOG_LEVEL": "WARNING"}
    return subprocess.run([sys.executable, "-m", "shared.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip


async def runs_waiting(cluster: Cluster) -> float:
    """The payments instance's count of runs refused until reconciliation (its /metrics)."""
    (proc,) = cluster.procs["payments"]
    async with httpx.AsyncClient(timeout=5) as client:
        try:
            text = (await client.get(f"http://127.0.0.1:{cluster.http_ports[proc.pid]}/metrics")).text
        except httpx.HTTPError:
            return 0.0  # not listening yet
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "payment_runs_waiting_reconciliation_total"
    )


async def paid_on_topic(cluster: Cluster) -> list[ClaimPaid]:
    records = await read_topic(cluster.stack.bootstrap_servers, cluster.prefix + "claims.paid")
    events = [parse_event(r.value) for r in records]
    assert all(isinstance(e, ClaimPaid) for e in events)
    return [e for e in events if isinstance(e, ClaimPaid)]


PAYMENTS_SQL = """SELECT x.payment_id, p.claim_id, x.run_id, x.amount, x.penalty, x.total_paid, x.paid_on
                  FROM payments x JOIN payables p ON p.id = x.payable_id ORDER BY x.payment_id"""


async def test_restoring_an_older_backup_pays_nothing_twice_and_the_ledger_balances(
    cluster: Cluster, tmp_path: Path
) -> None:
    cluster.start("payments")
    # Before the backup: six claims verified, a run whose funds cover three of them.
    await publish(cluster, [verified(i) for i in range(1, 7)])
    await eventually(lambda: _payables(cluster, 6), within=60)  # a run pays what is payable when it runs
    await publish(cluster, run("R-1", 3 * AMOUNT))
    await settled(cluster, 3)
    backup = tmp_path / "payments.dump"
    made = claimsctl(cluster, "backup", str(backup))
    assert made.returncode == 0, made.stderr
    # After it: three more claims verified, a run paying the six open ones.
    await publish(cluster, [verified(i) for i in range(7, 10)])
    await eventually(lambda: _payables(cluster, 9), within=60)
    await publish(cluster, run("R-2", 100 * AMOUNT))
    await settled(cluster, 9)
    after_backup = [r for r in await rows(cluster, PAYMENTS_SQL) if r[2] == "R-2"]
    assert len(after_backup) == 6

    refused = claimsctl(cluster, "restore", str(backup))  # payments is still connected
    assert (refused.returncode, "refusing to restore while sessions are connected" in refused.stderr) == (1, True)
    cluster.stop_all()
    restored = claimsctl(cluster, "restore", str(backup))
    assert restored.returncode == 0, restored.stderr
    assert await value(cluster, "SELECT count(*) FROM payments") == 3, "the backup knows only the first run"
    assert await value(cluster, "SELECT count(*) FROM restores WHERE reconciled_at IS NULL") == 1
    with pytest.raises(asyncpg.PostgresError) as waits:  # the database itself refuses a run until reconciled
        await value(cluster, "INSERT INTO payment_runs (run_id, funds, run_on, requested_by, paid_count, paid_total,"
                             " remaining) VALUES ('R-X', 0, '2026-03-02', 'test', 0, 0, 0) RETURNING 1")  # fmt: skip
    assert waits.value.sqlstate == "55P03"

    # Hold the payments table so the reconciliation cannot commit: a run that arrives meanwhile must wait.
    hold = await asyncpg.connect(cluster.database_url, server_settings={"search_path": "payments"})
    try:
        await hold.execute("BEGIN")
        await hold.execute("LOCK TABLE payments IN SHARE MODE")
        cluster.start("payments")
        await publish(cluster, [verified(10), verified(11)])  # two claims verified after the restore (not gated)
        await eventually(lambda: _verified_after_restore(cluster), within=60)
        # R-2 requested again (same run id and funds), and a new run: both wait for the reconciliation.
        await publish(cluster, run("R-2", 100 * AMOUNT) + run("R-3", 100 * AMOUNT))
        await eventually(lambda: _waiting(cluster), within=60)
        assert await hold.fetchval("SELECT count(*) FROM payment_runs") == 1, "no run before reconciliation"
    finally:
        await hold.close()  # rolls back: the reconciliation commits, then the runs proceed
    await settled(cluster, 11)

    in_db = await rows(cluster, PAYMENTS_SQL)
    assert [r for r in in_db if r[2] == "R-2"] == after_backup, "the payments made after the backup are back"
    assert await rows(cluster, "SELECT run_id, paid_count FROM payment_runs ORDER BY run_id") == [
        ("R-1", 3), ("R-2", 6), ("R-3", 2),
    ]  # fmt: skip
    assert sorted(r[0] for r in in_db if r[2] == "R-3") == ["PAY-000000010", "PAY-000000011"]
    assert await value(cluster, "SELECT count(*) FROM payables WHERE payment_id IS NULL") == 0
    assert await value(cluster, "SELECT count(DISTINCT payable_id) FROM payments") == 11
    assert await rows(cluster, "SELECT payments_rebuilt FROM restores WHERE reconciled_at IS NOT NULL") == [(6,)]

    paid = await paid_on_topic(cluster)
    assert len(paid) == 11, "one claims.paid per payment: nothing relayed twice"
    assert sorted(e.claim_id or "" for e in paid) == [f"RST-{i:03d}" for i in range(1, 12)]  # one per claim
    on_topic = sorted((e.payload.payment_id, e.claim_id or "", e.payload.payment_run_id) for e in paid)
    assert on_topic == [r[:3] for r in in_db]

    entries = await rows(cluster, """SELECT p.claim_id, count(*) FILTER (WHERE e.kind = 'payable'),
                                            count(*) FILTER (WHERE e.kind = 'payment')
                                     FROM payables p JOIN ledger_entries e ON e.payable_id = p.id
                                     GROUP BY p.claim_id ORDER BY p.claim_id""")  # fmt: skip
    assert entries == [(f"RST-{i:03d}", 1, 1) for i in range(1, 12)]
    balances: dict[str, int] = dict(await rows(cluster, """SELECT account, sum(amount)::bigint FROM (
                                              SELECT debit_account AS account, amount FROM ledger_entries
                                              UNION ALL SELECT credit_account, -amount FROM ledger_entries) e
                                           GROUP BY account"""))  # fmt: skip
    assert balances == {
        "expense:claims:fkrtl": 11 * AMOUNT, f"liability:payable:{RS}": 0, "asset:cash:bpjs": -11 * AMOUNT,
    }  # fmt: skip


async def _waiting(cluster: Cluster) -> bool:
    return await runs_waiting(cluster) >= 1


async def _verified_after_restore(cluster: Cluster) -> bool:
    return await value(cluster, "SELECT count(*) FROM payables WHERE claim_id IN ('RST-010', 'RST-011')") == 2


async def _payables(cluster: Cluster, n: int) -> bool:
    try:
        return await value(cluster, "SELECT count(*) FROM payables") == n
    except (OSError, asyncpg.PostgresError):
        return False  # the service has not migrated its schema yet
