"""The notifier's consumer entrypoint: plan deliveries for contract events (no sending inside the transaction)."""

from __future__ import annotations

from services.notifier.adapters.unit_of_work import NotifierUnitOfWork
from services.notifier.application import Planner, application
from shared.application import Application
from shared.runtime import ServiceContext


def consumer(ctx: ServiceContext) -> Application[NotifierUnitOfWork]:
    """One delivery row per matching subscription, in the batch's transaction; the dispatcher sends them."""
    return application(Planner(ctx.clock))
