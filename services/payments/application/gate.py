"""The reconciliation gate: no payment run proceeds until the database holds every payment the broker has seen.

After a restore the database may have forgotten payments it made (they are on `claims.paid`, which outlives
it); a run planned on that database would pay them again. Each instance starts with its gate closed, opens it
once its reconciliation (`application/reconcile.py`) has committed, and closes it again when a restore marker
appears while it runs. A run refused at a closed gate is kept waiting: a command is retried as a transient
failure (never committed past), the scheduled run waits for the gate.
"""

from __future__ import annotations

import asyncio

import structlog
from prometheus_client import Counter, Gauge

log = structlog.get_logger(__name__)

RUNS_WAITING = Counter(
    "payment_runs_waiting_reconciliation", "Payment runs refused (kept waiting) until reconciliation with claims.paid"
)
RECONCILED = Gauge("payments_reconciled", "1 once the database holds every payment on claims.paid, 0 until then")
PAYMENTS_REBUILT = Counter("payments_rebuilt", "Payments rebuilt from claims.paid that the database lacked")
PAYMENTS_CONFLICTING = Counter(
    "payments_conflicting_on_broker", "Payables claims.paid shows paid under two payment ids (paid twice before)"
)


class ReconciliationPending(TimeoutError):
    """A payment run arrived before reconciliation finished: transient (a TimeoutError), so it is retried later."""


class ReconciliationGate:
    """Open once this instance has reconciled; runs check it before they read anything."""

    def __init__(self, *, reconciled: bool) -> None:
        self._open = asyncio.Event()
        if reconciled:
            self._open.set()

    @classmethod
    def opened(cls) -> ReconciliationGate:
        """A gate with nothing to wait for (unit tests, tools)."""
        return cls(reconciled=True)

    @property
    def is_open(self) -> bool:
        return self._open.is_set()

    def open(self) -> None:
        self._open.set()
        RECONCILED.set(1)

    def close(self) -> None:
        self._open.clear()
        RECONCILED.set(0)

    async def wait(self) -> None:
        await self._open.wait()

    def check(self, run_id: str) -> None:
        """Refuse the run while reconciliation has not finished (counted and logged, retried by the caller)."""
        if self._open.is_set():
            return
        RUNS_WAITING.inc()
        log.warning("payment run waits for reconciliation with claims.paid", run_id=run_id, rule="RECONCILED-FIRST")
        raise ReconciliationPending(f"payment run {run_id} waits until reconciliation with claims.paid has finished")
