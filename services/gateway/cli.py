"""`claimsctl hospitals`: the gateway's credentials (add, list, rotate-secret, new-key).

Credentials are the gateway's own configuration, written here through its repository code (as `claimsctl
notify` does the notifier's subscriptions) rather than as a command on a topic: no other service cares, and
the operator sees the result at once. A new secret is generated here, printed once for the hospital (as
BPJS hands out a VClaim consumer secret) and stored sealed with GATEWAY_SECRETS_KEY (the gateway's key).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import asyncpg
import typer

from services.gateway.adapters import repository
from services.gateway.adapters.sealing import MissingSecretsKey, SecretBox, new_key, secret_box
from services.gateway.domain.eklaim import KODE_TARIF
from services.gateway.settings import GatewaySettings
from shared.cli_schema import run_in_schema

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
hospitals = typer.Typer(help="Hospital gateway credentials: cons_id, secret, kode_rs.", no_args_is_help=True)
SchemaOption = Annotated[str, typer.Option(hidden=True, help="The gateway's schema (tests use their own)")]
T = TypeVar("T")


def register(root: typer.Typer) -> None:
    """Mount `hospitals` on the root `claimsctl`."""
    root.add_typer(hospitals, name="hospitals")


def _run(schema: str, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    return run_in_schema(schema, MIGRATIONS, work)


def _box() -> SecretBox:
    try:
        return secret_box(GatewaySettings())
    except MissingSecretsKey as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _print_secret(cons_id: str, secret: str, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps({"cons_id": cons_id, "secret": secret}))
        return
    typer.echo(f"cons_id: {cons_id}\nsecret:  {secret}")
    typer.echo("Give the secret to the hospital now: it is stored sealed and never shown again.", err=True)


@hospitals.command()
def add(
    cons_id: Annotated[str, typer.Option(help="The X-cons-id the hospital sends")],
    name: Annotated[str, typer.Option(help="The hospital's (or operator's) name")],
    kode_rs: Annotated[
        str | None, typer.Option(help="Hospital code (kode PPK, 8 characters); omit for --operator")
    ] = None,
    kode_tarif: Annotated[str | None, typer.Option(help=f"Default tariff class: {', '.join(KODE_TARIF)}")] = None,
    regional: Annotated[int | None, typer.Option(help="Tariff region 1-5 (E-Klaim's hospital setup)")] = None,
    operator: Annotated[bool, typer.Option(help="A BPJS operator credential: reads every claim, submits none")] = False,
    rate_per_s: Annotated[float | None, typer.Option(help="Own rate limit (default GATEWAY_RATE_PER_S)")] = None,
    burst: Annotated[int | None, typer.Option(help="Own burst (default GATEWAY_RATE_BURST)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print {cons_id, secret} as JSON")] = False,
    schema: SchemaOption = "gateway",
) -> None:
    """Register a hospital (or an operator) and print its new secret once."""
    if operator == (kode_rs is not None):
        typer.echo("error: give --kode-rs for a hospital, or --operator (and no --kode-rs)", err=True)
        raise typer.Exit(2)
    if kode_rs is not None and (len(kode_rs) != 8 or not kode_rs.isalnum()):
        typer.echo(f"error: --kode-rs {kode_rs!r}: a hospital code is 8 letters and digits (e.g. 0301R001)", err=True)
        raise typer.Exit(2)
    if kode_tarif is not None and kode_tarif not in KODE_TARIF:
        typer.echo(f"error: --kode-tarif must be one of {', '.join(KODE_TARIF)}", err=True)
        raise typer.Exit(2)
    secret = secrets.token_urlsafe(32)
    row = repository.HospitalRow(cons_id, "operator" if operator else "hospital", kode_rs, name, kode_tarif, regional,
                                 rate_per_s, burst)  # fmt: skip
    sealed = _box().seal(secret)

    async def work(conn: asyncpg.Connection) -> None:
        await repository.add_hospital(conn, row, sealed)

    try:
        _run(schema, work)
    except asyncpg.UniqueViolationError as exc:
        typer.echo(f"error: cons_id {cons_id} or kode_rs {kode_rs} is registered already ({exc.constraint_name})",
                   err=True)  # fmt: skip
        raise typer.Exit(1) from exc
    _print_secret(cons_id, secret, as_json)


@hospitals.command(name="list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines")] = False, schema: SchemaOption = "gateway"
) -> None:
    """Every credential: cons_id, role, kode_rs, name, tariff setup and how many secrets are valid."""

    async def work(conn: asyncpg.Connection) -> list[tuple[repository.HospitalRow, int]]:
        return await repository.hospitals(conn)

    for row, valid in _run(schema, work):
        entry = {"cons_id": row.cons_id, "role": row.role, "kode_rs": row.kode_rs, "name": row.name,
                 "kode_tarif": row.kode_tarif, "regional_tarif": row.regional_tarif,
                 "valid_secrets": valid}  # fmt: skip
        if as_json:
            typer.echo(json.dumps(entry))
        else:
            typer.echo(f"{row.cons_id:<16} {row.role:<8} {row.kode_rs or '-':<9} {row.kode_tarif or '-':<5} "
                       f"region {row.regional_tarif or '-'}  secrets {valid}  {row.name}")  # fmt: skip


@hospitals.command(name="rotate-secret")
def rotate_secret(
    cons_id: Annotated[str, typer.Argument(help="The credential to rotate")],
    overlap_hours: Annotated[
        float | None, typer.Option(help="How long the old secret stays valid (default GATEWAY_SECRET_OVERLAP_HOURS)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print {cons_id, secret} as JSON")] = False,
    schema: SchemaOption = "gateway",
) -> None:
    """A new secret, printed once; the old one stays valid for the overlap, so the hospital can switch."""
    overlap = GatewaySettings().secret_overlap_hours if overlap_hours is None else overlap_hours
    secret = secrets.token_urlsafe(32)
    sealed = _box().seal(secret)

    async def work(conn: asyncpg.Connection) -> bool:
        return await repository.rotate_secret(conn, cons_id, sealed, overlap)

    if not _run(schema, work):
        typer.echo(f"error: no credential {cons_id}", err=True)
        raise typer.Exit(1)
    _print_secret(cons_id, secret, as_json)
    typer.echo(f"the previous secret stays valid for {overlap:g} h", err=True)


@hospitals.command(name="new-key")
def new_key_() -> None:
    """Print a fresh GATEWAY_SECRETS_KEY."""
    typer.echo(new_key())
