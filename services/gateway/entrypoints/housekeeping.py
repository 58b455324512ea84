"""Every hour: forget idempotent answers older than GATEWAY_IDEMPOTENCY_KEEP_HOURS."""

from __future__ import annotations

import asyncio

import structlog

from services.gateway.adapters.repository import purge_idempotency
from services.gateway.settings import get_gateway_settings
from shared.runtime import ServiceContext

log = structlog.get_logger(__name__)


async def forget_old_answers(ctx: ServiceContext) -> None:
    keep = get_gateway_settings().idempotency_keep_hours
    while True:
        async with ctx.pool.acquire() as conn:
            purged = await purge_idempotency(conn, keep)
        if purged:
            log.info("idempotent answers forgotten", rows=purged, older_than_hours=keep)
        await asyncio.sleep(3600)
