"""`claimsctl notify`: subscribe, list, unsubscribe and the delivery log, against the real database."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
import typer
from typer.testing import CliRunner

from deploy.local import Stack
from services.notifier.adapters import repository
from services.notifier.cli import register
from services.notifier.domain.model import AttemptResult
from services.notifier.planning import plan
from services.notifier.service import MIGRATIONS
from shared import db
from shared.settings import get_settings
from tests.integration.notifier.notifier_support import CLOCK, event

pytestmark = pytest.mark.integration


@pytest.fixture
def cli(stack: Stack) -> typer.Typer:
    get_settings.cache_clear()  # read DATABASE_URL as the stack fixture set it
    root = typer.Typer()
    register(root)
    return root


def run(cli: typer.Typer, schema: str, *args: str, secret: str = "") -> tuple[int, str]:
    """Exit code and stdout (errors: the exit code and stderr)."""
    result = CliRunner().invoke(cli, ["notify", *args, "--schema", schema], env={"NOTIFY_WEBHOOK_SECRET": secret})
    return result.exit_code, result.stdout if result.exit_code == 0 else result.stderr


def test_subscriptions_are_managed_and_secrets_never_printed(cli: typer.Typer, schema: str) -> None:
    secret = f"cli-secret-{uuid.uuid4().hex}"
    code, out = run(cli, schema, "subscribe", "--kode-rs", "0301R001", "--webhook", "https://rs.example/hook",
                    "--tz", "Asia/Makassar", secret=secret)  # fmt: skip
    assert code == 0, out
    assert out.startswith("subscribed #1  hospital 0301R001  webhook  https://rs.example/hook  id  Asia/Makassar")
    assert "secret: set" in out and secret not in out
    code, out = run(cli, schema, "subscribe", "--kode-rs", "0301R001", "--email", "klaim@rs.example", "--lang", "en",
                    "--event", "ClaimPaid", "--event", "ClaimPended")  # fmt: skip
    assert code == 0, out
    assert "events: ClaimPaid,ClaimPended" in out
    code, out = run(cli, schema, "subscribe", "--operators", "--email", "ops@bpjs.example")
    assert code == 0 and "events: PaymentOverdue,DeadLetterArrived,DeliveryFailed" in out

    code, listed = run(cli, schema, "list")
    assert code == 0 and len(listed.splitlines()) == 3 and secret not in listed
    code, listed = run(cli, schema, "list", "--kode-rs", "0301R001")
    assert len(listed.splitlines()) == 2

    assert run(cli, schema, "unsubscribe", "2") == (0, "unsubscribed #2 (0 pending deliveries cancelled)\n")
    assert run(cli, schema, "unsubscribe", "2")[0] == 1
    code, listed = run(cli, schema, "list")
    assert len(listed.splitlines()) == 2
    code, listed = run(cli, schema, "list", "--all")
    assert "(removed)" in listed and len(listed.splitlines()) == 3


def test_bad_subscriptions_are_refused_with_every_reason(cli: typer.Typer, schema: str) -> None:
    code, out = run(cli, schema, "subscribe", "--kode-rs", "0301R001", "--webhook", "https://rs.example/hook")
    assert code == 2 and "NOTIFY_WEBHOOK_SECRET" in out  # no secret and no terminal to ask on
    code, out = run(cli, schema, "subscribe", "--kode-rs", "0301R001", "--operators", "--email", "a@b.example")
    assert code == 2 and "either --kode-rs" in out
    code, out = run(cli, schema, "subscribe", "--kode-rs", "0301R001", "--email", "nope", "--tz", "Mars/Base",
                    "--event", "DeadLetterArrived")  # fmt: skip
    assert code == 1
    assert "not an e-mail address" in out and "Mars/Base" in out and "DeadLetterArrived" in out
    assert run(cli, schema, "list") == (0, "no subscriptions\n")


def test_the_delivery_log_shows_every_attempt(cli: typer.Typer, schema: str, stack: Stack) -> None:
    secret = f"cli-secret-{uuid.uuid4().hex}"
    assert run(cli, schema, "subscribe", "--kode-rs", "0301R001", "--webhook", "https://rs.example/hook",
               secret=secret)[0] == 0  # fmt: skip
    pended = event("ClaimPended", "0301R001")
    assert pended.claim_id is not None
    asyncio.run(_two_attempts(stack, schema, pended))

    code, out = run(cli, schema, "log", pended.claim_id)
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].startswith("delivery #1  ClaimPended")
    assert "delivered after 2 attempt(s)" in lines[0]
    assert "attempt 1" in lines[1] and "HTTP 503" in lines[1] and "37 ms  retry  HTTP 503: busy" in lines[1]
    assert "attempt 2" in lines[2] and "HTTP 200" in lines[2] and "delivered" in lines[2]
    assert secret not in out
    code, out = run(cli, schema, "log", pended.claim_id, "--json")
    (doc,) = [json.loads(line) for line in out.splitlines()]
    assert [(a["attempt"], a["status_code"], a["outcome"]) for a in doc["log"]] == [
        (1, 503, "retry"), (2, 200, "delivered"),
    ]  # fmt: skip
    assert run(cli, schema, "log", "no-such-claim") == (0, "no notifications for claim no-such-claim\n")


async def _two_attempts(stack: Stack, schema: str, ev: object) -> None:
    """A delivery answered 503, then 200, written through the repository as the dispatcher does."""
    await db.migrate(stack.database_url, schema, MIGRATIONS)
    pool = await db.create_pool(stack.database_url, schema)
    try:
        now = CLOCK.now()
        async with pool.acquire() as conn, conn.transaction():
            await plan(conn, schema, ev, now)  # type: ignore[arg-type]
        for attempt, result in enumerate(
            [AttemptResult("retry", 503, "HTTP 503: busy"), AttemptResult("delivered", 200)]
        ):
            (d,) = await repository.claim_due(
                pool, now=now, limit=1, per_subscription=1, lease_s=30, token=uuid.uuid4()
            )
            assert d.attempt == attempt + 1
            async with pool.acquire() as conn, conn.transaction():
                await repository.record_attempt(conn, d, now, 37, result)
                if result.outcome == "retry":
                    await repository.schedule_retry(conn, d, now, result.error)
                else:
                    await repository.mark_delivered(conn, d, now)
    finally:
        await pool.close()
