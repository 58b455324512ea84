"""The notifier's unit of work: the batch's transaction and the repositories planning reads and writes."""

from __future__ import annotations

from collections import Counter

from services.notifier import metrics
from services.notifier.adapters.repository import SqlDeliveries, SqlSubscriptions
from shared.application import UnitOfWork
from shared.outbox import Tx


class NotifierUnitOfWork(UnitOfWork):
    def __init__(self, tx: Tx) -> None:
        super().__init__(tx)
        self.subscriptions = SqlSubscriptions(tx.conn)
        self.deliveries = SqlDeliveries(tx.conn, tx.schema)
        self.planned = 0  # deliveries new at the last flush (repeats of an event already planned are not)

    async def flush(self) -> None:
        new = await self.deliveries.flush()
        for event_type, n in Counter(new).items():
            metrics.DELIVERIES_PLANNED.labels(event_type).inc(n)
        self.planned = len(new)
