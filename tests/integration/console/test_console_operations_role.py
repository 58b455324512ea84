"""The operations page's every query, run as the console's own PostgreSQL role as production provisions it.

A PostgreSQL of its own (role names are per cluster): `claimsctl db provision`'s plan, every schema migrated
as its owner, claimsctl's audit schema migrated, then the console's operations grants. Connected as
`jkn_console`: the services' outboxes, the notifier's failed deliveries, the read model's deadlines, the past
redrives and a real redrive (audited, on the session's broker) all work; a service's table stays unwritable.
"""

from __future__ import annotations

import shutil
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

import asyncpg
import pytest

from deploy.local import Stack, _stop_process, start_embedded_postgres
from services.console.adapters import operations_queries as queries
from shared import db, dlq
from shared.cli_db import role_plan
from shared.db_roles import grant_operations_dsn, provision_dsn
from shared.runtime import make_producer
from shared.services import SERVICES
from shared.settings import DatabaseSettings
from tests.support.services import Lane, new_lane

pytestmark = pytest.mark.integration

DENIED = asyncpg.InsufficientPrivilegeError
TODAY = date(2026, 11, 16)


@dataclass(frozen=True)
class Provisioned:
    admin: str
    console: str  # the console's DSN: its own role


@pytest.fixture(scope="module")
async def provisioned() -> AsyncIterator[Provisioned]:
    dsn, proc, data = start_embedded_postgres()
    try:
        plan = role_plan(DatabaseSettings())
        await provision_dsn(dsn, plan)
        for spec in SERVICES():  # the migrate job: each schema as its owner, then claimsctl's audit schema
            await db.migrate(dsn, spec.schema, *([spec.migrations] if spec.migrations else []))
        await dlq.apply_audit_migrations(dsn)
        granted = await grant_operations_dsn(dsn, plan)
        assert granted == ["jkn_console: may read and add to ops.{dlq_redrives}"]
        await _failed_delivery(dsn)
        yield Provisioned(dsn, db.with_role(dsn, "jkn_console"))
    finally:
        _stop_process(proc, signal.SIGINT)
        shutil.rmtree(data.parent, ignore_errors=True)


@pytest.fixture
async def as_console(provisioned: Provisioned) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(provisioned.console, server_settings={"search_path": "console"})
    yield conn
    await conn.close()


async def _failed_delivery(dsn: str) -> None:
    """One webhook the notifier gave up on, as its dispatcher leaves it."""
    conn = await asyncpg.connect(dsn, server_settings={"search_path": "notifier"})
    try:
        now = datetime(2026, 11, 16, 2, 0, tzinfo=UTC)
        sub = await conn.fetchval(
            """INSERT INTO subscriptions (audience, kode_rs, channel, target, secret, event_types, created_at)
               VALUES ('hospital', '0301R001', 'webhook', 'https://rs.example/hook', 's', '{ClaimPended}', $1)
               RETURNING id""",
            now,
        )
        await conn.execute(
            """INSERT INTO deliveries (event_id, subscription_id, event_type, claim_id, kode_rs, channel, subject, text,
                                       status, attempts, next_attempt_at, last_error, created_at)
               VALUES (gen_random_uuid(), $1, 'ClaimPended', 'P1', '0301R001', 'webhook', 's', 't', 'dead', 8, $2,
                       'HTTP 503', $2)""",
            sub, now,
        )  # fmt: skip
    finally:
        await conn.close()


async def test_the_console_role_reads_every_services_outbox(as_console: asyncpg.Connection) -> None:
    services = [(s.name, s.schema) for s in SERVICES()]
    found = await queries.outbox_backlog(as_console, services)
    assert [(b.service, b.waiting, b.quarantined, b.error) for b in found] == [(n, 0, 0, None) for n, _ in services]


async def test_the_console_role_reads_the_notifiers_failed_deliveries(as_console: asyncpg.Connection) -> None:
    (failure,) = await queries.notification_failures(as_console, "notifier")
    assert (failure.claim_id, failure.status, failure.attempts, failure.target) == (
        "P1", "dead", 8, "https://rs.example/hook")  # fmt: skip


async def test_the_console_role_reads_its_deadlines_and_overdue_payables(as_console: asyncpg.Connection) -> None:
    assert await queries.deadlines(as_console, TODAY, date(2026, 11, 19)) == []
    assert await queries.overdue_payables(as_console, TODAY) == []


async def test_the_console_role_redrives_a_dead_letter_once_and_writes_nothing_else(
    stack: Stack, provisioned: Provisioned, as_console: asyncpg.Connection
) -> None:
    lane: Lane = await new_lane(stack)
    letter = dlq.DlqRecord(lane.prefix + "claims.pended.dlq", 0, 0, 1_763_258_400_000, b"JUNK-1", b"not an event",
                           (), lane.prefix)  # fmt: skip
    audit = await dlq.connect_audit(provisioned.console, migrate=False)  # as the console's adapter connects
    producer = make_producer(stack.bootstrap_servers, lane.settings())
    await producer.start()
    try:
        assert await dlq.past_redrives(audit, [letter]) == {}
        first = await dlq.redrive(
            audit, producer, dlq.RedriveOperation("ops.rina", lane.prefix, dry_run=False), [letter]
        )
        again = await dlq.redrive(
            audit, producer, dlq.RedriveOperation("ops.budi", lane.prefix, dry_run=False), [letter]
        )
        assert [o.outcome for o in first.outcomes] == ["redriven"]
        assert [o.outcome for o in again.outcomes] == ["already-redriven"]
        assert (await dlq.past_redrives(audit, [letter]))[letter.id].by == "ops.rina"
        with pytest.raises(DENIED):  # the audit is append-only for the console
            await audit.execute("DELETE FROM dlq_redrives")
        with pytest.raises(DENIED):  # and a service's tables are read-only
            await as_console.execute("DELETE FROM notifier.deliveries")
    finally:
        await producer.stop()
        await audit.close()
