"""The read model's use cases: each outcome event folded into its claim's view, a batch at a time.

One handler per consumed event type (`application()` builds the table the runtime checks). A run of events
costs one read of the views it touches (those not read earlier in the batch) and the unit of work writes
every changed view with one statement at the end of the batch. `prepare` takes the batch's claim locks in
key order first, the same locks the intake takes, so a submission and an outcome never overwrite each other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from services.gateway.adapters.unit_of_work import GatewayUnitOfWork
from services.gateway.application.intake import UnitOfWorkLike
from services.gateway.domain import monitor
from services.gateway.metrics import VIEWS_UPDATED
from shared.application import Application, BatchHandler
from shared.events import (
    ClaimDisputeResolved,
    ClaimGrouped,
    ClaimPaid,
    ClaimPended,
    ClaimRejected,
    ClaimVerified,
    Envelope,
    event_type_name,
)
from shared.outbox import Tx

Fold = Callable[[monitor.ClaimView, Any], monitor.ClaimView]


def _where(event: Any) -> tuple[str, str]:
    """(kode_rs, nomor_sep) of an outcome event (ClaimGrouped carries them in its claim)."""
    data = getattr(event.payload, "claim", event.payload)
    return data.kode_rs, data.nomor_sep


def folding(cls: type[Envelope], fold: Fold) -> Callable[[UnitOfWorkLike, Sequence[Any]], Awaitable[None]]:
    """A batch handler applying `fold` to each event's view, in order."""
    name = event_type_name(cls)

    async def handle(uow: UnitOfWorkLike, events: Sequence[Any]) -> None:
        views = await uow.views.load(e.claim_id for e in events)
        for event in events:
            view = fold(views.get(event.claim_id) or monitor.new_view(event.claim_id, *_where(event)), event.payload)
            views[event.claim_id] = view
            uow.views.put(view)
        VIEWS_UPDATED.labels(name).inc(len(events))

    return handle


FOLDS: dict[type[Envelope], Fold] = {
    ClaimGrouped: monitor.grouped,
    ClaimRejected: monitor.rejected,
    ClaimPended: monitor.pended,
    ClaimVerified: monitor.verified,
    ClaimDisputeResolved: monitor.dispute_resolved,
    ClaimPaid: monitor.paid,
}


async def take_claim_locks(tx: Tx, events: Sequence[Envelope]) -> None:
    """The batch's claim locks, in key order, before any handler runs."""
    await GatewayUnitOfWork(tx).lock_claims(e.claim_id for e in events if e.claim_id is not None)


def application() -> Application[GatewayUnitOfWork]:
    """The read-model consumer's use cases, one per event type it consumes."""
    handlers: dict[type[Envelope], BatchHandler[GatewayUnitOfWork]] = {
        cls: folding(cls, fold) for cls, fold in FOLDS.items()
    }
    return Application("gateway", handlers, GatewayUnitOfWork, prepare=take_claim_locks)
