"""`claimsctl db provision`: the admin step that gives every service its own PostgreSQL role (shared/db_roles.py)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from shared.db_roles import RolePlan, SchemaRole, grant_operations_dsn, provision_dsn, service_role
from shared.settings import DatabaseSettings, Settings, get_settings

db_app = typer.Typer(help="PostgreSQL roles: one per service owning its schema; claimsctl's read-only and ops roles.")


def role_plan(settings: DatabaseSettings) -> RolePlan:
    """Every service of this checkout with its role and password (DB_PASSWORD_<SERVICE>), and claimsctl's roles."""
    from shared.db_roles import AUDIT_SCHEMA, OPERATOR, READING_SERVICES
    from shared.services import SERVICES

    services = [
        SchemaRole(
            service_role(s.name),
            s.schema,
            str(getattr(settings, f"db_password_{s.name}", "")),
            reads_services=s.name in READING_SERVICES,
        )
        for s in SERVICES()
    ]
    return RolePlan(
        services,
        operator=SchemaRole(OPERATOR, AUDIT_SCHEMA, settings.db_password_claimsctl),
        reader_password=settings.db_password_claimsctl_ro,
    )


def admin_dsn(settings: Settings) -> str:
    """DATABASE_ADMIN_URL, else DATABASE_URL, else the running local stack's (its owner), with DB_SSL*.

    No broker is needed: provisioning only talks to PostgreSQL.
    """
    from shared import db
    from shared.cli import endpoints

    dsn = settings.database.database_admin_url or settings.database.database_url or endpoints()[1]
    return db.with_tls(dsn, settings.database)


@db_app.command("provision")
def provision(
    migrate: Annotated[bool, typer.Option(help="Then apply every migration, each as its schema's owner")] = True,
) -> None:
    """As the admin: each service's role owning only its schema, jkn_claimsctl_ro, jkn_claimsctl; then migrate."""
    import asyncpg

    settings = get_settings()
    dsn = admin_dsn(settings)
    try:
        done = asyncio.run(provision_dsn(dsn, role_plan(settings.database)))
    except asyncpg.InsufficientPrivilegeError as exc:
        typer.echo(f"error: DATABASE_ADMIN_URL: this role may not create roles or grant ({exc})", err=True)
        raise typer.Exit(2) from exc
    for line in done:
        typer.echo(line)
    if migrate:
        _migrate_all(dsn)
        # The audit table exists now: the console's operations page may record redrives in it.
        for line in asyncio.run(grant_operations_dsn(dsn, role_plan(settings.database))):
            typer.echo(line)


def _migrate_all(dsn: str) -> None:
    from shared import db
    from shared.dlq import apply_audit_migrations
    from shared.services import SERVICES

    for spec in SERVICES():
        applied = asyncio.run(db.migrate(dsn, spec.schema, *([spec.migrations] if spec.migrations else [])))
        typer.echo(f"{spec.name}: {len(applied)} migration(s) applied (as {service_role(spec.name)})")
    typer.echo(f"claimsctl audit (schema ops): {len(asyncio.run(apply_audit_migrations(dsn)))} migration(s) applied")
