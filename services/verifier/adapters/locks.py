"""The verifier's one lock order for a consumer batch (the sweeper follows it too)."""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from services.verifier.adapters import repository as repo
from shared.consumer import is_transient
from shared.events import ClaimGrouped, Envelope, ParticipantChanged, ReviewDecisionRequested
from shared.outbox import Tx

log = structlog.get_logger(__name__)


async def take_batch_locks(tx: Tx, events: Sequence[Envelope]) -> None:
    """Every lock a batch needs, in the verifier's one lock order (repo.lock_in_order), before any handler.

    The sweeper follows the same order: without it a batch took SEP and claim locks in offset order and
    deadlocked with the sweeper's claim_id order.
    """
    claim_ids = [e.claim_id for e in events if e.claim_id is not None and not isinstance(e, ParticipantChanged)]
    if not claim_ids:
        return
    seps = {e.payload.claim.nomor_sep for e in events if isinstance(e, ClaimGrouped)}
    reviewed = [e.claim_id for e in events if isinstance(e, ReviewDecisionRequested) and e.claim_id]
    try:
        async with tx.conn.transaction():  # a savepoint: hostile values must not fail the whole batch here
            if reviewed:
                seps.update((await repo.seps_of(tx.conn, reviewed)).values())
            await repo.lock_in_order(tx.conn, seps, claim_ids)
    except Exception as exc:
        if is_transient(exc):
            raise
        # Event by event, each event's own run takes its locks (a one-event batch cannot deadlock on order).
        log.warning("batch locks not taken up front", error=repr(exc)[:500])
