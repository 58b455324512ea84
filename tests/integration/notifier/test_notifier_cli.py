"""`claimsctl notify`: subscribe, list, unsubscribe and the delivery log, against the real database."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import asyncpg
import pytest
import typer
from typer.testing import CliRunner

import shared.runtime
from deploy.local import Stack, free_port
from services.notifier import cli as notifier_cli
from services.notifier.adapters import repository
from services.notifier.adapters.sealing import SecretBox, new_key
from services.notifier.application import plan
from services.notifier.cli import register
from services.notifier.domain.model import AttemptResult
from services.notifier.service import MIGRATIONS
from shared import db
from shared.settings import get_settings
from tests.integration.notifier.notifier_support import CLOCK, SECRETS_KEY, event

pytestmark = pytest.mark.integration


PUBLIC = "93.184.215.14"  # what the hospitals' names resolve to here: checked, never connected to
NAMES = {"rs.example": [PUBLIC], "simrs.rs-0301.test": ["10.0.0.5"]}


async def resolve(host: str) -> list[str]:
    """The CLI's resolver in these tests: a fixed map, no DNS."""
    if host not in NAMES:
        raise OSError(f"[Errno -2] Name or service not known: {host}")
    return NAMES[host]


@pytest.fixture
def cli(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    get_settings.cache_clear()  # read DATABASE_URL as the stack fixture set it
    monkeypatch.setattr(notifier_cli, "RESOLVER", resolve)
    root = typer.Typer()
    register(root)
    return root


def run(
    cli: typer.Typer, schema: str, *args: str, secret: str = "", allow: str = "", key: str = SECRETS_KEY
) -> tuple[int, str]:
    """Exit code and stdout (errors: the exit code and stderr)."""
    env = {"NOTIFY_WEBHOOK_SECRET": secret, "NOTIFIER_SECRETS_KEY": key, "NOTIFIER_WEBHOOK_ALLOW": allow}
    result = CliRunner().invoke(cli, ["notify", *args, "--schema", schema], env=env)
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


def test_webhooks_into_the_network_are_refused_unless_allow_listed(cli: typer.Typer, schema: str) -> None:
    secret = f"cli-secret-{uuid.uuid4().hex}"
    port = free_port()
    for url, rule in [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local (cloud metadata) address"),
        (f"http://127.0.0.1:{port}/hook", "127.0.0.1 is a loopback address (127.0.0.0/8)"),
        ("https://simrs.rs-0301.test/hook", "simrs.rs-0301.test resolves to 10.0.0.5, which is a private address"),
    ]:
        code, out = run(cli, schema, "subscribe", "--kode-rs", "0301R001", "--webhook", url, secret=secret)
        assert code == 1, out
        assert f"error: webhook URL '{url}': {rule}" in out and "NOTIFIER_WEBHOOK_ALLOW" in out
    assert run(cli, schema, "list") == (0, "no subscriptions\n")  # nothing stored
    code, out = run(cli, schema, "subscribe", "--kode-rs", "0301R001", "--webhook", f"http://127.0.0.1:{port}/hook",
                    secret=secret, allow=f"127.0.0.1:{port}")  # fmt: skip
    assert code == 0 and out.startswith(f"subscribed #1  hospital 0301R001  webhook  http://127.0.0.1:{port}/hook")
    code, out = run(cli, schema, "subscribe", "--operators", "--webhook", "http://[::1]/", secret=secret,
                    allow="not a cidr/99")  # fmt: skip
    assert code == 2 and "NOTIFIER_WEBHOOK_ALLOW" in out  # a malformed allow-list is an error, never ignored


def test_secrets_are_sealed_at_rest_and_rotated_with_an_overlap(cli: typer.Typer, schema: str, stack: Stack) -> None:
    old, new, third = (f"cli-secret-{n}-{uuid.uuid4().hex}" for n in ("old", "new", "third"))
    assert run(cli, schema, "subscribe", "--kode-rs", "0301R001", "--webhook", "https://rs.example/hook",
               secret=old)[0] == 0  # fmt: skip
    code, out = run(cli, schema, "rotate-secret", "1", "--overlap", "36h", secret=new)
    assert code == 0, out
    assert out.startswith("#1: the new secret signs from now; the old one also signs until ")
    code, listed = run(cli, schema, "list")
    assert "secrets: 2 signing (rotation: the old one signs until " in listed
    code, out = run(cli, schema, "rotate-secret", "1", secret=third)
    assert code == 1 and "already signing with two secrets" in out and "retire-secret" in out
    assert run(cli, schema, "rotate-secret", "1", "--overlap", "soon", secret=third)[0] == 2
    assert run(cli, schema, "rotate-secret", "1", secret="short")[1].startswith("error: secret: a webhook signing")
    assert run(cli, schema, "retire-secret", "1") == (0, "#1: 1 old secret(s) retired; only the newest signs now\n")
    assert run(cli, schema, "retire-secret", "1")[0] == 1  # nothing left to retire
    assert "secret: set" in run(cli, schema, "list")[1]

    stored = asyncio.run(_stored_secrets(stack, schema))
    assert len(stored) == 2 and all(s.startswith(b"gAAAA") for s in stored)  # Fernet tokens
    assert not any(secret.encode() in s for s in stored for secret in (old, new))
    # Key rotation: the new key first, the old one still listed; reseal; then the new key alone opens them.
    next_key = new_key()
    code, out = run(cli, schema, "reseal", key=f"{next_key},{SECRETS_KEY}")
    assert (code, out) == (0, "re-sealed 2 webhook secret(s) with the first key\n")
    resealed = asyncio.run(_stored_secrets(stack, schema))
    assert [SecretBox([next_key]).open(s) for s in resealed] == [old, new]
    code, out = run(cli, schema, "reseal", key=new_key())  # a new key without the old one: refused, unchanged
    assert code == 1 and "cannot be opened with NOTIFIER_SECRETS_KEY" in out and "nothing was re-sealed" in out
    assert asyncio.run(_stored_secrets(stack, schema)) == resealed


def test_without_the_secrets_key_a_webhook_cannot_be_stored(
    cli: typer.Typer, schema: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(shared.runtime, "STACK_ENV", tmp_path / "no-local-stack.env")  # not on the local stack
    result = CliRunner().invoke(
        cli, ["notify", "subscribe", "--kode-rs", "0301R001", "--webhook", "https://rs.example/hook", "--schema",
              schema], env={"NOTIFY_WEBHOOK_SECRET": "a-long-enough-secret", "NOTIFIER_SECRETS_KEY": ""},
    )  # fmt: skip
    assert result.exit_code == 2
    assert "NOTIFIER_SECRETS_KEY is not set" in result.stderr and "claimsctl notify new-key" in result.stderr
    assert run(cli, schema, "list") == (0, "no subscriptions\n")


async def _stored_secrets(stack: Stack, schema: str) -> list[bytes]:
    conn = await asyncpg.connect(stack.database_url)
    try:
        rows = await conn.fetch(f"SELECT sealed FROM {schema}.webhook_secrets ORDER BY id")
        clear = await conn.fetchval(f"SELECT count(*) FROM {schema}.subscriptions WHERE secret IS NOT NULL")
    finally:
        await conn.close()
    assert clear == 0
    return [bytes(r["sealed"]) for r in rows]
