"""PostgreSQL access: a pool per service bound to the service's own schema, and migrations."""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path
from typing import TypeAlias

import asyncpg
import structlog
from asyncpg.pool import PoolConnectionProxy

log = structlog.get_logger(__name__)

Pool: TypeAlias = "asyncpg.Pool[asyncpg.Record]"
# What a handler gets: a plain connection or one borrowed from a pool; both run queries alike.
Conn: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"

KERNEL_MIGRATIONS = Path(str(resources.files("shared") / "migrations"))


def quote_ident(name: str) -> str:
    """Quote a schema name; schema names come from code, but quoting keeps that an invariant."""
    return '"' + name.replace('"', '""') + '"'


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
    """Create the schema and apply pending migrations once, serialised across instances."""
    conn: asyncpg.Connection = await asyncpg.connect(dsn)
    applied: list[str] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", advisory_key(f"migrate:{schema}"))
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
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
        await conn.execute("SELECT pg_advisory_unlock_all()")
        await conn.close()
    return applied
