"""Reconciliation on start (and after a restore marker appears): claims.paid into the database, then the gate opens.

On every start the instance reads claims.paid from where the database last reconciled (the offsets are
restored with the database, so a restored one re-reads everything published since its own past); after a
`claimsctl restore` (a row in `restores`) it reads the topic from the beginning. It rebuilds what the
database lacks in one transaction, saves the new offsets, and only then opens its gate: until then payment
runs are refused and kept waiting (`application/gate.py`), and the deadline monitor does not report payables
as overdue that were in fact paid.
"""

from __future__ import annotations

import asyncio

import structlog

from services.payments.adapters.history import KafkaHistory
from services.payments.adapters.reconcile import (
    SqlReconcileStore,
    finish_restores,
    pending_restores,
    reconciled_offsets,
    save_offsets,
)
from services.payments.adapters.unit_of_work import PaymentsUnitOfWork
from services.payments.application.gate import ReconciliationGate
from services.payments.application.reconcile import Reconciled, reconcile, reconcile_capitation
from shared.kafka_security import client_options
from shared.outbox import Tx
from shared.runtime import ServiceContext, resolve_endpoints

log = structlog.get_logger(__name__)

GATE = "payments.reconciliation-gate"
WATCH_S = 2.0  # how often a running instance looks for a restore done under it (`claimsctl restore --force`)
RETRY_S = 1.0


def gate_of(ctx: ServiceContext) -> ReconciliationGate:
    """This instance's gate: closed until its first reconciliation has committed."""
    gate = ctx.extras.get(GATE)
    if gate is None:
        gate = ctx.extras[GATE] = ReconciliationGate(reconciled=False)
        gate.close()  # the gauge says so from the start
    assert isinstance(gate, ReconciliationGate)
    return gate


def history_of(ctx: ServiceContext) -> KafkaHistory:
    bootstrap, _ = resolve_endpoints(ctx.settings)
    return KafkaHistory(bootstrap, ctx.settings.broker.topic_prefix, client_options(ctx.settings.broker))


async def reconcile_once(ctx: ServiceContext, history: KafkaHistory) -> Reconciled:
    """Read claims.paid and capitation.paid (all of them after a restore, else from the saved offsets) and
    rebuild what the database lacks, in one transaction with the new offsets and the restores marked."""
    async with ctx.pool.acquire() as conn:
        restores = await pending_restores(conn)
        after_restore = bool(restores)
        paid_from = None if after_restore else await reconciled_offsets(conn, history.paid_topic)
        capitation_from = None if after_restore else await reconciled_offsets(conn, history.capitation_topic)
    # Outside the transaction: no lock is held while the broker is read.
    paid = await history.paid(paid_from)
    capitation = await history.capitation(capitation_from)
    async with ctx.pool.acquire() as conn, conn.transaction():
        # The runs it rebuilds may be registered although the restore is not reconciled yet (migration 0007).
        await conn.execute("SELECT set_config('jkn.reconciling', 'on', true)")
        uow = PaymentsUnitOfWork(Tx(conn, ctx.schema, ctx.settings.broker.max_output_bytes))
        store = SqlReconcileStore(conn, uow.flush)
        result = await reconcile(uow, store, history, paid.events)
        capitation_rebuilt = await reconcile_capitation(uow, store, capitation.events)
        await uow.flush()
        await save_offsets(conn, history.paid_topic, paid.following)
        await save_offsets(conn, history.capitation_topic, capitation.following)
        await finish_restores(conn, [r.id for r in restores], result.payments_rebuilt)
    log.info("reconciled with claims.paid and capitation.paid", read=result.read, rebuilt=result.payments_rebuilt,
             payables_rebuilt=result.payables_rebuilt, runs_rebuilt=result.runs_rebuilt, conflicts=result.conflicts,
             capitation_read=len(capitation.events), capitation_rebuilt=capitation_rebuilt,
             after_restore=[r.id for r in restores], from_beginning=after_restore)  # fmt: skip
    return result


async def until_restored(ctx: ServiceContext) -> None:
    """Return once a restore marker is pending (polled: the restore is another process's, in the database)."""
    while True:
        async with ctx.pool.acquire() as conn:
            if await pending_restores(conn):
                return
        await asyncio.sleep(WATCH_S)  # real seconds: the business clock may be fixed or simulated


async def reconciler(ctx: ServiceContext) -> None:
    """Reconcile, open the gate; close it and reconcile again whenever a restore marker appears."""
    gate = gate_of(ctx)
    history = history_of(ctx)
    while True:
        try:
            await reconcile_once(ctx, history)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # broker or database not there yet: runs keep waiting, try again
            log.warning("reconciliation with claims.paid failed, retrying", error=repr(exc), retry_in_s=RETRY_S)
            await asyncio.sleep(RETRY_S)
            continue
        gate.open()
        await until_restored(ctx)
        gate.close()
        log.warning("a restore was done under the running service: payment runs wait for reconciliation")
