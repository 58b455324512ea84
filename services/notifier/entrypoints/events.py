"""The consumer's handler: plan deliveries for a contract event (no sending inside the transaction)."""

from __future__ import annotations

from services.notifier.planning import plan
from shared.consumer import Handler
from shared.events import Envelope
from shared.outbox import Tx
from shared.runtime import ServiceContext


def make_handler(ctx: ServiceContext) -> Handler:
    """One delivery row per matching subscription, in the batch's transaction; the dispatcher sends them."""

    async def handle(tx: Tx, event: Envelope) -> None:
        await plan(tx.conn, tx.schema, event, ctx.clock.now())

    return handle
