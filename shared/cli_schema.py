"""One unit of work in a service's schema, for the `claimsctl` commands a service registers."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import asyncpg
import typer

from shared import db
from shared.settings import get_settings

T = TypeVar("T")


def run_in_schema(schema: str, migrations: Path, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    """Migrate `schema` (its service may not have run yet), then run `work` in one transaction there.

    No database configured is a usage error (exit 2), said on stderr; migration output goes to stderr too,
    so a command's stdout stays its answer.
    """
    from shared.runtime import resolve_endpoints

    try:
        _, dsn = resolve_endpoints(get_settings())
    except RuntimeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc

    async def main() -> T:
        with contextlib.redirect_stdout(sys.stderr):
            await db.migrate(dsn, schema, migrations)
        conn: asyncpg.Connection = await asyncpg.connect(
            dsn, server_settings={"search_path": f"{db.quote_ident(schema)},public"}
        )
        try:
            async with conn.transaction():
                return await work(conn)
        finally:
            await conn.close()

    return asyncio.run(main())
