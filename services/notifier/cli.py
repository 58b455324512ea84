"""`claimsctl notify`: subscriptions (subscribe, unsubscribe, list) and the delivery log.

Subscriptions are the notifier's own configuration, written here through the notifier's
repository code rather than as a command on a `notifier.commands` topic (ENGINEERING.md
prefers commands): the contract has no notifier command yet, a subscription change has
no effect on any other service, and the operator sees the result (or the refusal) at
once. Signing secrets are read from NOTIFY_WEBHOOK_SECRET or a hidden prompt, are never
printed, and are stored sealed with NOTIFIER_SECRETS_KEY (the same key the notifier has).
A webhook URL is refused unless it resolves to public addresses only or
NOTIFIER_WEBHOOK_ALLOW names it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, TypeVar, cast

import asyncpg
import typer

from services.notifier import application
from services.notifier.adapters import repository
from services.notifier.adapters.egress import Egress, Resolver, system_resolver
from services.notifier.adapters.sealing import MissingSecretsKey, SecretBox, UnreadableSecret, new_key, secret_box
from services.notifier.domain.model import Language, Subscription, SubscriptionRequest
from services.notifier.domain.routing import with_defaults
from services.notifier.settings import NotifierSettings
from shared import db
from shared.clock import get_clock
from shared.settings import get_settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SECRET_ENV = "NOTIFY_WEBHOOK_SECRET"

notify = typer.Typer(
    help="Hospital and operator notifications: subscriptions and the delivery log.", no_args_is_help=True
)

SchemaOption = Annotated[str, typer.Option(hidden=True, help="The notifier's schema (tests use their own)")]
T = TypeVar("T")
# How webhook hosts are resolved when a subscription is checked (tests map names without DNS).
RESOLVER: Resolver = system_resolver


def register(root: typer.Typer) -> None:
    """Mount `notify` on the root `claimsctl`."""
    root.add_typer(notify, name="notify")


@asynccontextmanager
async def _connect(schema: str) -> AsyncIterator[asyncpg.Connection]:
    from shared.runtime import resolve_endpoints

    try:
        _, dsn = resolve_endpoints(get_settings())
    except RuntimeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    with contextlib.redirect_stdout(sys.stderr):  # keep stdout for the answer (and --json)
        await db.migrate(dsn, schema, MIGRATIONS)  # the notifier may not have run yet
    conn: asyncpg.Connection = await asyncpg.connect(
        dsn, server_settings={"search_path": f"{db.quote_ident(schema)},public"}
    )
    try:
        yield conn
    finally:
        await conn.close()


def _run(schema: str, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    async def main() -> T:
        async with _connect(schema) as conn, conn.transaction():
            return await work(conn)

    return asyncio.run(main())


def describe(sub: Subscription) -> str:
    """One line per subscription; the secret only as `set`."""
    who = f"hospital {sub.kode_rs}" if sub.audience == "hospital" else "operators"
    parts = [f"#{sub.id}", who, sub.channel, sub.target, sub.language, sub.timezone]
    if sub.channel == "webhook":
        parts.append(_secrets(sub))
    if not sub.active:
        parts.append("(removed)")
    parts.append("events: " + ",".join(sub.event_types))
    return "  ".join(parts)


def _secrets(sub: Subscription) -> str:
    if sub.signing_secrets == 0:
        return "secret: none"
    if sub.signing_secrets == 1:
        return "secret: set"
    until = sub.overlap_until.isoformat() if sub.overlap_until else "?"
    return f"secrets: {sub.signing_secrets} signing (rotation: the old one signs until {until})"


def _settings() -> NotifierSettings:
    """NOTIFIER_* as the notifier reads them (read afresh: the allow-list and key must be the service's)."""
    try:
        return NotifierSettings()
    except ValueError as exc:
        _fail(str(exc))
        raise  # unreachable: _fail exits


def _box(settings: NotifierSettings) -> SecretBox:
    try:
        return secret_box(settings)
    except MissingSecretsKey as exc:
        _fail(str(exc))
        raise


@notify.command()
def subscribe(
    kode_rs: Annotated[str | None, typer.Option("--kode-rs", help="Hospital code (kode PPK), e.g. 0301R001")] = None,
    operators: Annotated[bool, typer.Option("--operators", help="The operators' channel, not a hospital")] = False,
    webhook: Annotated[str | None, typer.Option(help="Webhook URL that receives signed JSON POSTs")] = None,
    email: Annotated[str | None, typer.Option(help="E-mail address")] = None,
    language: Annotated[str, typer.Option("--lang", help="id (Indonesian) or en (English)")] = "id",
    timezone: Annotated[str, typer.Option("--tz", help="Zone of times in messages: Asia/Jakarta (WIB), "
                                          "Asia/Makassar (WITA), Asia/Jayapura (WIT)")] = "Asia/Jakarta",
    event: Annotated[list[str] | None, typer.Option("--event", help="Event type (repeatable); default: "
                                                    "every type for the audience")] = None,
    schema: SchemaOption = "notifier",
) -> None:  # fmt: skip
    """Subscribe a hospital (--kode-rs) or the operators (--operators) by webhook or e-mail."""
    if operators == (kode_rs is not None):
        _fail("give either --kode-rs CODE or --operators")
    if (webhook is None) == (email is None):
        _fail("give exactly one of --webhook URL or --email ADDRESS")
    secret = _secret() if webhook is not None else None
    request = with_defaults(
        SubscriptionRequest(
            audience="operators" if operators else "hospital",
            kode_rs=kode_rs,
            channel="webhook" if webhook is not None else "email",
            target=webhook if webhook is not None else str(email),
            language=cast(Language, language),
            timezone=timezone,
            event_types=tuple(event or ()),
            secret=secret,
        )
    )
    settings = _settings()
    box = _box(settings) if webhook is not None else None  # e-mail: nothing to seal
    egress = Egress(settings.allow_list(), RESOLVER)

    async def add(conn: asyncpg.Connection) -> application.Outcome | Subscription:
        now = get_clock().now()
        outcome = await application.subscribe(conn, request, egress=egress, box=box, now=now)
        if outcome.subscription_id is None:
            return outcome
        listed = await repository.list_subscriptions(conn, kode_rs=kode_rs, now=now)
        return next(s for s in listed if s.id == outcome.subscription_id)

    created = _run(schema, add)
    if isinstance(created, application.Outcome):
        _fail(*created.problems, code=1)
        return
    typer.echo(f"subscribed {describe(created)}")


@notify.command(name="rotate-secret")
def rotate_secret(
    subscription_id: Annotated[int, typer.Argument(help="Webhook subscription number (see `notify list`)")],
    overlap: Annotated[str, typer.Option(help="How long the old secret keeps signing too: 7d, 36h, 90m")] = "7d",
    schema: SchemaOption = "notifier",
) -> None:
    """Add a new signing secret (NOTIFY_WEBHOOK_SECRET or a prompt); the old one also signs until the overlap ends."""
    try:
        length = application.parse_overlap(overlap)
    except ValueError as exc:
        _fail(str(exc))
        return
    secret = _secret()
    box = _box(_settings())

    async def rotate(conn: asyncpg.Connection) -> repository.SecretChange:
        return await application.rotate_secret(conn, subscription_id, secret, length, box=box, now=get_clock().now())

    change = _run(schema, rotate)
    if change.refused:
        _fail(change.refused, code=1)
    until = change.overlap_until.isoformat() if change.overlap_until else "?"
    typer.echo(f"#{subscription_id}: the new secret signs from now; the old one also signs until {until}")


@notify.command(name="retire-secret")
def retire_secret(
    subscription_id: Annotated[int, typer.Argument(help="Webhook subscription number (see `notify list`)")],
    schema: SchemaOption = "notifier",
) -> None:
    """End a rotation now: only the newest secret signs from now on."""

    async def retire(conn: asyncpg.Connection) -> repository.SecretChange:
        return await repository.retire_old_secrets(conn, subscription_id, get_clock().now())

    change = _run(schema, retire)
    if change.refused:
        _fail(change.refused, code=1)
    typer.echo(f"#{subscription_id}: {change.retired} old secret(s) retired; only the newest signs now")


@notify.command(name="new-key")
def new_key_() -> None:
    """Print a fresh NOTIFIER_SECRETS_KEY (keep it in your secret store; the notifier and claimsctl need it)."""
    typer.echo(new_key())


@notify.command()
def reseal(schema: SchemaOption = "notifier") -> None:
    """Re-seal every webhook secret with the first NOTIFIER_SECRETS_KEY (key rotation: new key first, then this)."""
    box = _box(_settings())

    async def run(conn: asyncpg.Connection) -> int:
        return await repository.reseal_secrets(conn, box.reseal)

    try:
        count = _run(schema, run)
    except UnreadableSecret as exc:  # nothing was changed: the transaction rolled back
        _fail(f"{exc}; nothing was re-sealed", code=1)
        return
    typer.echo(f"re-sealed {count} webhook secret(s) with the first key")


def _secret() -> str:
    import os

    secret = os.environ.get(SECRET_ENV, "")
    if secret:
        return secret
    if not sys.stdin.isatty():
        _fail(f"a webhook needs a signing secret: set {SECRET_ENV} (it is never printed)")
    value: str = typer.prompt("Webhook signing secret", hide_input=True, confirmation_prompt=True)
    return value


def _fail(*lines: str, code: int = 2) -> None:
    for line in lines:
        typer.echo(f"error: {line}", err=True)
    raise typer.Exit(code)


@notify.command()
def unsubscribe(
    subscription_id: Annotated[int, typer.Argument(help="Subscription number (see `notify list`)")],
    schema: SchemaOption = "notifier",
) -> None:
    """Remove a subscription; its pending deliveries are cancelled (the delivery log stays)."""

    async def remove(conn: asyncpg.Connection) -> int | None:
        return await repository.remove_subscription(conn, subscription_id, get_clock().now())

    cancelled = _run(schema, remove)
    if cancelled is None:
        _fail(f"no active subscription #{subscription_id}", code=1)
    typer.echo(f"unsubscribed #{subscription_id} ({cancelled} pending deliveries cancelled)")


@notify.command(name="list")
def list_(
    kode_rs: Annotated[str | None, typer.Option("--kode-rs", help="Only this hospital's")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Include removed subscriptions")] = False,
    schema: SchemaOption = "notifier",
) -> None:
    """List subscriptions (secrets are never shown)."""

    async def fetch(conn: asyncpg.Connection) -> list[Subscription]:
        return await repository.list_subscriptions(conn, kode_rs=kode_rs, include_inactive=all_, now=get_clock().now())

    subs = _run(schema, fetch)
    if not subs:
        typer.echo("no subscriptions")
    for sub in subs:
        typer.echo(describe(sub))


@notify.command()
def log(
    claim_id: Annotated[str, typer.Argument(help="The claim whose notifications to show")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per delivery")] = False,
    schema: SchemaOption = "notifier",
) -> None:
    """Every notification about CLAIM_ID and every attempt: when, status code, latency, outcome."""

    async def fetch(conn: asyncpg.Connection) -> list[repository.LoggedDelivery]:
        return await repository.delivery_log(conn, claim_id)

    deliveries = _run(schema, fetch)
    if not deliveries and not as_json:
        typer.echo(f"no notifications for claim {claim_id}")
    for d in deliveries:
        typer.echo(json.dumps(_as_dict(d), ensure_ascii=False) if as_json else _as_text(d))


def _code(channel: str, code: int | None) -> str:
    if code is None:
        return "no answer"
    return f"{'HTTP' if channel == 'webhook' else 'SMTP'} {code}"


def _as_text(d: repository.LoggedDelivery) -> str:
    who = f"hospital {d.kode_rs}" if d.audience == "hospital" else "operators"
    lines = [
        f"delivery #{d.id}  {d.event_type}  event {d.event_id}  -> #{d.subscription_id} {who} {d.channel} "
        f"{d.target}  {d.status} after {d.attempts} attempt(s)"
    ]
    for a in d.log:
        lines.append(
            f"  attempt {a.attempt}  {a.started_at.isoformat()}  {_code(d.channel, a.status_code)}  "
            f"{a.latency_ms} ms  {a.outcome}" + (f"  {a.error}" if a.error else "")
        )
    return "\n".join(lines)


def _as_dict(d: repository.LoggedDelivery) -> dict[str, object]:
    return {
        "delivery_id": d.id,
        "event_id": str(d.event_id),
        "event_type": d.event_type,
        "subscription_id": d.subscription_id,
        "audience": d.audience,
        "kode_rs": d.kode_rs,
        "channel": d.channel,
        "target": d.target,
        "status": d.status,
        "attempts": d.attempts,
        "created_at": d.created_at.isoformat(),
        "delivered_at": d.delivered_at.isoformat() if d.delivered_at else None,
        "last_error": d.last_error,
        "log": [
            {"attempt": a.attempt, "started_at": a.started_at.isoformat(), "status_code": a.status_code,
             "latency_ms": a.latency_ms, "outcome": a.outcome, "error": a.error}
            for a in d.log
        ],
    }  # fmt: skip
