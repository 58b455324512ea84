"""`claimsctl operators`: operators' keys and the registry; the signing every command-publishing subcommand uses.

Every command claimsctl publishes is signed with the operator's private key (`--operator ID --key FILE`,
or CLAIMSCTL_OPERATOR / CLAIMSCTL_OPERATOR_KEY). `claimsctl operators keygen` makes a key pair and prints
the registry entry to add to the deployed registry (deploy/README.md, "Operator keys").
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from shared.operators import (
    ROLES,
    Operator,
    OperatorSigner,
    load_registry,
    load_signer,
    new_signer,
    registry_path,
    registry_summary,
    render_operator,
)
from shared.settings import ClaimsctlSettings, get_settings

operators_app = typer.Typer(help="Operators: signing keys and the registry of who may do what.", no_args_is_help=True)

OperatorOption = Annotated[
    str | None, typer.Option("--operator", help="Operator id to sign as (default: CLAIMSCTL_OPERATOR)")
]
KeyOption = Annotated[
    Path | None, typer.Option("--key", help="The operator's Ed25519 private key, PEM (default: CLAIMSCTL_OPERATOR_KEY)")
]


def operator_signer(operator: str | None, key: Path | None) -> OperatorSigner:
    """The signer named by the options or the settings; exits 2 naming what is missing."""
    defaults = ClaimsctlSettings()
    operator_id, key_file = operator or defaults.operator, key or defaults.operator_key
    if not operator_id or key_file is None:
        typer.echo(
            "error: commands are signed: give --operator ID and --key FILE (or CLAIMSCTL_OPERATOR and "
            "CLAIMSCTL_OPERATOR_KEY); `claimsctl operators keygen` makes a key",
            err=True,
        )
        raise typer.Exit(2)
    try:
        return load_signer(operator_id, key_file)
    except (OSError, ValueError) as exc:
        typer.echo(f"error: --key {key_file}: {exc}", err=True)
        raise typer.Exit(2) from exc


def _instant(text: str | None, default: datetime | None) -> datetime | None:
    if text is None:
        return default
    at = datetime.fromisoformat(text)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


@operators_app.command("keygen")
def keygen(
    operator: Annotated[str, typer.Option("--operator", help="Operator id, e.g. finance.budi")],
    name: Annotated[str, typer.Option(help="The person's name as the audit shows it")],
    role: Annotated[list[str], typer.Option("--role", help=f"Repeatable: {', '.join(ROLES)}")],
    out: Annotated[Path, typer.Option(help="Directory for the private key file (kept by the operator only)")],
    valid_from: Annotated[str | None, typer.Option(help="ISO instant (default: now)")] = None,
    valid_to: Annotated[str | None, typer.Option(help="ISO instant the key stops being valid (default: open)")] = None,
) -> None:
    """Make a new Ed25519 key pair: the private key to FILE (mode 0600), the registry entry to stdout."""
    signer = new_signer(operator)
    start, end = _instant(valid_from, datetime.now(UTC)), _instant(valid_to, None)
    assert start is not None
    try:
        entry = Operator.model_validate(
            {"id": operator, "name": name, "roles": tuple(role), "keys": (signer.key_entry(start, end),)}
        )
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    out.mkdir(parents=True, exist_ok=True)
    key_file = out / f"{operator}.{signer.key_id.split(':')[1]}.pem"
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(signer.private_pem())
    typer.echo(f"# private key written to {key_file} (give it to {operator} only; never to the registry)", err=True)
    typer.echo(render_operator(entry), nl=False)


@operators_app.command("list")
def list_operators() -> None:
    """The registry these settings name (OPERATORS_REGISTRY_FILE): operators, roles and key validity."""
    path = registry_path(get_settings().operators.registry_file)
    try:
        registry = load_registry(path)
    except (OSError, ValueError) as exc:
        typer.echo(f"error: {path}: {exc}", err=True)
        raise typer.Exit(1) from exc
    doc = {"registry": str(path), "version": registry.version, "operators": registry_summary(registry)}
    typer.echo(json.dumps(doc, indent=2))


def register(root: typer.Typer) -> None:
    """Mount `claimsctl operators`."""
    root.add_typer(operators_app, name="operators")
