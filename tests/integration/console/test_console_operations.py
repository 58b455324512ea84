"""The operations page's data on the real stack: deadlines at risk and overdue payables from the console's read
model (fed by real events through the real consumer), outbox backlog, consumer lag, a dead letter and its
audited redrive (once only), and the notifier's failed deliveries.

Today is Monday 16 Nov 2026 and the horizon 3 working days (up to Thu 19 Nov):
  P1 pended, resubmit by Wed 18 Nov                    -> at risk, 2 working days left
  P2 pended, resubmit by Mon 30 Nov                    -> not yet
  U1 grouped, submitted Sun 8 Nov, undecided           -> deemed complete 8 + 10 calendar days = Wed 18 Nov, 2 left
  V1 verified Mon 26 Oct, unpaid                       -> due 15 working days later: Oct 27-30 (4), Nov 2-6 (9),
                                                          Nov 9-13 (14), Mon 16 Nov (15): due today, 0 left
  O1 overdue since Mon 2 Nov, payments said 11 days late on 13 Nov with 20,658 accrued (5,634,100 x 11 / 3,000);
     today it is 14 days late: 5,634,100 x 14 / 3,000 = 26,292.47 -> 26,292
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from deploy.local import Stack
from services.console.adapters.operations_queries import dead_letters
from services.console.application.operations import Where, operations_view, redrive
from services.console.entrypoints import operations_pages
from services.console.entrypoints.analytics_consumer import ANALYTICS_CONSUMES
from services.console.entrypoints.session import (
    ConsoleEnv,
    SignedIn,
    current_operator,
    install,
    templates_environment,
)
from shared import db, dlq
from shared.calendar import WorkingCalendar
from shared.runtime import ServiceSpec
from tests.integration.console.test_console_analytics import grouped, overdue, pended, verified
from tests.support.kafka import eventually, produce
from tests.support.services import Lane, new_lane, running

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
MIGRATIONS = ROOT / "services" / "console" / "migrations"
NOTIFIER_MIGRATIONS = ROOT / "services" / "notifier" / "migrations"
TODAY = date(2026, 11, 16)
A = "0301R001"


@dataclass
class World:
    lane: Lane
    spec: ServiceSpec
    where: Where
    pool: db.Pool


@pytest.fixture(scope="module")
async def world(stack: Stack) -> AsyncIterator[World]:
    lane = await new_lane(stack)
    spec = lane.isolate(ServiceSpec("console", "console", MIGRATIONS, [ANALYTICS_CONSUMES]))
    settings = lane.settings()
    notifier = f"notifier_{lane.suffix}"
    await db.migrate(stack.database_url, notifier, NOTIFIER_MIGRATIONS)
    await _failed_delivery(stack.database_url, notifier)
    async with running(spec, settings):
        await lane.publish([
            grouped("P1", A, "K-1-13-I", "K35.9", 6_550_000, 5_634_100), pended("P1", A, resubmit_by="2026-11-18"),
            grouped("P2", A, "K-1-13-I", "K35.9", 6_550_000, 5_634_100), pended("P2", A, resubmit_by="2026-11-30"),
            verified("V1", A, 5_634_100, on="2026-10-26"),
            overdue("O1", A, 5_634_100, as_of="2026-11-13", late=11, penalty=20_658, due="2026-11-02"),
            grouped("U1", A, "K-1-13-I", "K35.9", 6_550_000, 5_634_100, submitted_on="2026-11-08"),
        ])  # fmt: skip
        await produce(stack.bootstrap_servers, lane.prefix + "claims.pended", [(b"JUNK-1", b"not an event")])

        async def applied() -> bool:  # consumed, and the junk's dead letter relayed (the outbox is empty again)
            if not await lane.consumed(spec):
                return False
            conn = await asyncpg.connect(stack.database_url, server_settings={"search_path": spec.schema})
            try:
                return not await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
            finally:
                await conn.close()

        await eventually(applied, within=30)
        where = Where(settings, stack.bootstrap_servers, stack.database_url, [spec], notifier)
        pool = await db.create_pool(stack.database_url, spec.schema, max_size=2)
        try:
            yield World(lane, spec, where, pool)
        finally:
            await pool.close()


async def _failed_delivery(dsn: str, schema: str) -> None:
    """One webhook the notifier gave up on, as its dispatcher leaves it."""
    conn = await asyncpg.connect(dsn, server_settings={"search_path": schema})
    try:
        now = datetime(2026, 11, 16, 2, 0, tzinfo=UTC)
        sub = await conn.fetchval(
            """INSERT INTO subscriptions (audience, kode_rs, channel, target, secret, event_types, created_at)
               VALUES ('hospital', $1, 'webhook', 'https://rs.example/hook', 's', '{ClaimPended}', $2) RETURNING id""",
            A, now,
        )  # fmt: skip
        await conn.execute(
            """INSERT INTO deliveries (event_id, subscription_id, event_type, claim_id, kode_rs, channel, subject, text,
                                       status, attempts, next_attempt_at, last_error, created_at)
               VALUES (gen_random_uuid(), $1, 'ClaimPended', 'P1', $2, 'webhook', 's', 't', 'dead', 8, $3,
                       'HTTP 503 <html>', $3)""",
            sub, A, now,
        )  # fmt: skip
    finally:
        await conn.close()


async def test_deadlines_at_risk_and_overdue_payables_come_from_the_read_model(world: World) -> None:
    async with world.pool.acquire() as conn:
        view = await operations_view(conn, world.where, WorkingCalendar(), TODAY, 3)
    assert [(r.deadline.kind, r.deadline.claim_id, r.deadline.due, r.working_days_left) for r in view.deadlines] == [
        ("payment_due", "V1", date(2026, 11, 16), 0),
        ("deemed_complete", "U1", date(2026, 11, 18), 2),
        ("resubmit", "P1", date(2026, 11, 18), 2),
    ]
    assert [(p.claim_id, p.days_late(TODAY), p.reported_penalty, p.penalty_today(TODAY)) for p in view.overdue] == [
        ("O1", 14, 20_658, 26_292)]  # fmt: skip
    (outbox,) = view.outbox
    assert (outbox.service, outbox.waiting, outbox.quarantined) == ("console", 0, 0)
    (lag,) = view.lag
    assert (lag.group, lag.lag, lag.partitions_behind, lag.error) == (world.spec.consumes[0].name, 0, 0, None)
    (failure,) = view.notifications
    assert (failure.claim_id, failure.status, failure.attempts, failure.last_error) == ("P1", "dead", 8,
                                                                                         "HTTP 503 <html>")  # fmt: skip


async def test_a_dead_letter_is_shown_and_redriven_once_under_the_operators_name(world: World) -> None:
    async with world.pool.acquire() as conn:
        view = await operations_view(conn, world.where, WorkingCalendar(), TODAY, 3)
    (letter,) = [x for x in view.letters if x.source_topic == "claims.pended"]
    assert letter.consumer == world.spec.consumes[0].name and letter.key == b"JUNK-1"
    assert letter.id not in view.redriven

    first = await redrive(world.where, [letter.id], "ops.rina")
    assert [o.outcome for o in first.outcomes] == ["redriven"]
    again = await redrive(world.where, [letter.id], "ops.budi")
    assert [o.outcome for o in again.outcomes] == ["already-redriven"]

    audit = await dlq.connect_audit(world.where.dsn, migrate=False)
    try:
        rows = await audit.fetch(
            "SELECT redriven_by, consumer FROM dlq_redrives WHERE dlq_topic = $1 AND dlq_offset = $2 AND NOT dry_run",
            letter.topic, letter.offset,
        )  # fmt: skip
    finally:
        await audit.close()
    assert [(r["redriven_by"], r["consumer"]) for r in rows] == [("ops.rina", world.spec.consumes[0].name)]
    async with world.pool.acquire() as conn:
        shown = await operations_view(conn, world.where, WorkingCalendar(), TODAY, 3)
    assert shown.redriven[letter.id].by == "ops.rina"


async def test_the_operations_page_shows_it_all_and_redrives_from_a_form(world: World) -> None:
    app = FastAPI()
    app.include_router(operations_pages.router)
    install(app, ConsoleEnv(templates_environment(), None, {}, session_lookup=_no_session))
    app.state.pool = lambda: world.pool
    app.state.runtime = SimpleNamespace(settings=world.where.settings, bootstrap=world.where.bootstrap,
                                        dsn=world.where.dsn, spec=world.spec)  # fmt: skip
    app.dependency_overrides[current_operator] = lambda: SignedIn("ops.rina", ("reviewer",), "en")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://console") as http:
        page = await http.get("/operations", params={"days": "60"})
        assert page.status_code == 200
        for heading in ("Deadlines at risk", "Overdue payables (penalty accruing)", "Outbox backlog per service",
                        "Consumer lag per group", "Dead letters (DLQ)", "Notification delivery failures"):  # fmt: skip
            assert heading in page.text
        assert world.spec.consumes[0].name in page.text  # its lag row
        assert 'action="/operations/dlq/redrive"' not in page.text  # a reviewer sees no redrive button
        # The first letter (the redriven copy was dead-lettered again, as junk is).
        letter = next(x for x in await operations_view_letters(world) if x.source_topic == "claims.pended")
        refused = await http.post("/operations/dlq/redrive", data={"letter_id": letter.id})
        assert refused.status_code == 403  # a reviewer may look, not redrive
        assert "This page needs the role operations. Your roles: reviewer." in refused.text
        app.dependency_overrides[current_operator] = lambda: SignedIn("ops.yusuf", ("operations",), "en")

        async def copy_dead_lettered() -> bool:
            return len([x for x in await operations_view_letters(world) if x.source_topic == "claims.pended"]) > 1

        await eventually(copy_dead_lettered, within=30)
        posted = await http.post("/operations/dlq/redrive", data={"letter_id": letter.id})
        assert posted.status_code == 200
        assert 'action="/operations/dlq/redrive"' in posted.text  # the copy dead-lettered again may be redriven
        assert f"{letter.id}</span>: already-redriven" in posted.text  # the test above redrove it


async def operations_view_letters(world: World) -> list[dlq.DlqRecord]:
    letters, _ = await dead_letters(world.where.bootstrap, world.where.prefix, world.where.dsn)
    return letters


async def _no_session(hashed: bytes, now: datetime) -> None:
    return None
