"""`claimsctl console`: the console's local accounts (add, list, unlock) and its sealing key (new-key).

Accounts are the console's own configuration, written here through its repository (as `claimsctl hospitals`
writes the gateway's credentials): an operator's password (argon2id hash) and their Ed25519 private key
(the file `claimsctl operators keygen` wrote), sealed with CONSOLE_SECRETS_KEY so the console can sign their
commands. Roles are never stored here: the operator registry (OPERATORS_REGISTRY_FILE) says them, and the
key must be one the registry lists for that operator.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import asyncpg
import typer

from services.console.adapters.passwords import hash_password, signer_from_pem
from services.console.adapters.repository import Account, SqlAccounts, SqlGuards
from services.console.adapters.sealing import SecretBox, secret_box
from services.console.settings import ConsoleSettings
from shared.cli_schema import run_in_schema
from shared.operators import load_registry, registry_path
from shared.sealing import MissingSecretsKey, new_key
from shared.settings import get_settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MIN_PASSWORD_LENGTH = 8
console_app = typer.Typer(help="The operator console: local accounts and the key sealing them.", no_args_is_help=True)
accounts_app = typer.Typer(help="Operators' console accounts (roles come from the operator registry).",
                           no_args_is_help=True)  # fmt: skip
console_app.add_typer(accounts_app, name="accounts")
SchemaOption = Annotated[str, typer.Option(hidden=True, help="The console's schema (tests use their own)")]
T = TypeVar("T")


def register(root: typer.Typer) -> None:
    """Mount `console` on the root `claimsctl`."""
    root.add_typer(console_app, name="console")


def _run(schema: str, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    return run_in_schema(schema, MIGRATIONS, work)


def _box() -> SecretBox:
    try:
        return secret_box(ConsoleSettings(), create_local=True)
    except MissingSecretsKey as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


@accounts_app.command("add")
def accounts_add(
    operator_id: Annotated[str, typer.Argument(help="The operator's id in the registry, e.g. verif.sari")],
    key: Annotated[
        Path, typer.Option("--key", help="The operator's Ed25519 private key (PEM) from `claimsctl operators keygen`")
    ],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin (its first line)")
    ] = False,
    schema: SchemaOption = "console",
) -> None:
    """Create or replace OPERATOR_ID's console account: password (argon2id) and signing key (sealed)."""
    if not password_stdin:
        typer.echo("error: give the password on stdin with --password-stdin (never as an argument)", err=True)
        raise typer.Exit(2)
    password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < MIN_PASSWORD_LENGTH:
        typer.echo(f"error: the password must have at least {MIN_PASSWORD_LENGTH} characters", err=True)
        raise typer.Exit(1)
    try:
        signer = signer_from_pem(operator_id, key.read_bytes())
    except (OSError, ValueError) as exc:
        typer.echo(f"error: --key {key}: {exc}", err=True)
        raise typer.Exit(2) from exc
    path = registry_path(get_settings().operators.registry_file)
    try:
        registry = load_registry(path)
    except (OSError, ValueError) as exc:
        typer.echo(f"error: operator registry {path}: {exc}", err=True)
        raise typer.Exit(2) from exc
    operator = next((o for o in registry.operators if o.id == operator_id), None)
    if operator is None:
        typer.echo(f"error: {operator_id} is not in the operator registry {path}: roles come from there", err=True)
        raise typer.Exit(1)
    if signer.key_id not in {k.key_id for k in operator.keys}:
        typer.echo(f"error: --key {key} is {signer.key_id}, not a key the registry lists for {operator_id}", err=True)
        raise typer.Exit(1)
    sealed = _box().seal(signer.private_pem().decode())
    account = Account(operator_id, hash_password(password), sealed, signer.key_id)

    async def work(conn: asyncpg.Connection) -> None:
        await SqlAccounts(conn).put(account)
        await SqlGuards(conn).clear(operator_id)

    _run(schema, work)
    typer.echo(json.dumps({"account": operator_id, "roles": list(operator.roles), "key_id": signer.key_id}))


@accounts_app.command("list")
def accounts_list(schema: SchemaOption = "console") -> None:
    """Accounts: key id, roles from the operator registry, and any wrong-password count or lock."""
    rows = _run(schema, lambda conn: SqlAccounts(conn).listing())
    try:
        registry = load_registry(registry_path(get_settings().operators.registry_file))
        roles = {o.id: list(o.roles) for o in registry.operators}
    except (OSError, ValueError):
        roles = {}
    # Roles as the registry gives them now (none: the operator is no longer in it, and can open nothing).
    typer.echo(json.dumps([{**r, "roles": roles.get(r["operator_id"], [])} for r in rows], default=str, indent=2))


@accounts_app.command("unlock")
def accounts_unlock(operator_id: str, schema: SchemaOption = "console") -> None:
    """Clear OPERATOR_ID's wrong-password count and lock."""
    cleared = _run(schema, lambda conn: SqlGuards(conn).clear(operator_id.strip().lower()))
    typer.echo(json.dumps({"account": operator_id, "unlocked": cleared}))


@console_app.command("new-key")
def new_key_command() -> None:
    """Print a fresh CONSOLE_SECRETS_KEY (give the console and claimsctl the same value)."""
    typer.echo(new_key())
