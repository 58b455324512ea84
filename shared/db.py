"""PostgreSQL access: a pool per service bound to the service's own schema, and migrations."""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
import structlog
from asyncpg.pool import PoolConnectionProxy

if TYPE_CHECKING:
    from shared.settings import DatabaseSettings

log = structlog.get_logger(__name__)

Pool: TypeAlias = "asyncpg.Pool[asyncpg.Record]"
# What a handler gets: a plain connection or one borrowed from a pool; both run queries alike.
Conn: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"

KERNEL_MIGRATIONS = Path(str(resources.files("shared") / "migrations"))


def quote_ident(name: str) -> str:
    """Quote a schema name; schema names come from code, but quoting keeps that an invariant."""
    return '"' + name.replace('"', '""') + '"'


def with_tls(dsn: str, settings: DatabaseSettings) -> str:
    """The DSN with DB_SSLMODE and DB_SSLROOTCERT as libpq parameters, so every connection made from it
    (pools, migrations, the relay's and the dispatcher's own sessions, claimsctl) uses the same TLS.

    A parameter the DSN already names wins: an operator who wrote `?sslmode=...` into a secret meant it.
    The defaults (prefer, no root certificate) are libpq's and asyncpg's own: the DSN is left as it is.
    """
    if settings.db_sslmode == "prefer" and settings.db_sslrootcert is None:
        return dsn
    parts = urlsplit(dsn)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.setdefault("sslmode", settings.db_sslmode)
    if settings.db_sslrootcert is not None:
        query.setdefault("sslrootcert", str(settings.db_sslrootcert))
    return urlunsplit(parts._replace(query=urlencode(query)))


def with_role(dsn: str, role: str, password: str | None = None) -> str:
    """The same server and database as `dsn`, logging in as `role` (the local stack gives each service its own)."""
    parts = urlsplit(dsn)
    host = parts.netloc.rsplit("@", 1)[-1]
    login = role if not password else f"{role}:{password}"
    return urlunsplit(parts._replace(netloc=f"{login}@{host}"))


async def ensure_schema(conn: Conn, schema: str) -> None:
    """Create the schema if missing, then act as its owner for the rest of the session.

    Creating needs CREATE on the database, which only the admin has: a service's role finds its schema
    made by `claimsctl db provision` and never asks (PostgreSQL checks that privilege even for
    CREATE SCHEMA IF NOT EXISTS on a schema that exists). Acting as the owner keeps every table a
    migration makes owned by the schema's role, whoever runs it (the admin in the migrate job).
    """
    owner = await conn.fetchval("SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = $1", schema)
    if owner is None:
        await conn.execute(f"CREATE SCHEMA {quote_ident(schema)}")
        return
    may_act = await conn.fetchval(
        "SELECT $1::text <> current_user AND pg_has_role(current_user, $1::regrole, 'MEMBER')", owner
    )
    if may_act:
        await conn.execute(f"SET ROLE {owner}")  # regrole::text is already quoted where it needs to be


async def create_pool(dsn: str, schema: str, *, min_size: int = 1, max_size: int = 5) -> Pool:
    """A pool whose connections see the service schema first (each service owns its tables)."""
    pool: Pool | None = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        server_settings={"search_path": f"{quote_ident(schema)},public", "application_name": schema},
    )
    assert pool is not None
    return pool


def advisory_key(text: str) -> int:
    """A stable signed 64-bit key for pg_advisory_lock from a name."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big", signed=True)


def migration_files(*directories: Path) -> list[tuple[str, Path]]:
    """Numbered SQL files, kernel first, each directory in order; the id is 'dir/file'."""
    found: list[tuple[str, Path]] = []
    for directory in directories:
        for path in sorted(directory.glob("*.sql")):
            found.append((f"{directory.parent.name}/{path.name}", path))
    return found


async def migrate(dsn: str, schema: str, *directories: Path) -> list[str]:
    """Create the schema and apply pending migrations once, serialised across instances, as the schema's owner."""
    conn: asyncpg.Connection = await asyncpg.connect(dsn)
    applied: list[str] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", advisory_key(f"migrate:{schema}"))
        await ensure_schema(conn, schema)
        await conn.execute(f"SET search_path TO {quote_ident(schema)},public")
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (id text PRIMARY KEY, applied_at timestamptz DEFAULT now())"
        )
        done = {r["id"] for r in await conn.fetch("SELECT id FROM schema_migrations")}
        for mid, path in migration_files(KERNEL_MIGRATIONS, *directories):
            if mid in done:
                continue
            async with conn.transaction():
                await conn.execute(path.read_text())
                await conn.execute("INSERT INTO schema_migrations (id) VALUES ($1)", mid)
            applied.append(mid)
            log.info("migration applied", schema=schema, migration=mid)
    finally:
        await conn.execute("RESET ROLE")
        await conn.execute("SELECT pg_advisory_unlock_all()")
        await conn.close()
    return applied
