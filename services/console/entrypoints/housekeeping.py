"""Hourly: forget sessions that have expired (a signed-out or timed-out cookie opens nothing anyway)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import structlog

from services.console.adapters.repository import SqlSessions
from shared.runtime import ServiceContext

log = structlog.get_logger(__name__)


async def forget_expired_sessions(ctx: ServiceContext) -> None:
    while True:
        async with ctx.pool.acquire() as conn:
            purged = await SqlSessions(conn).purge(datetime.now(UTC))
        if purged:
            log.info("expired console sessions forgotten", sessions=purged)
        await asyncio.sleep(3600)
