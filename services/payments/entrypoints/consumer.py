"""The payments consumer's entrypoint: the use cases configured from the service's context."""

from __future__ import annotations

from services.payments.adapters.unit_of_work import PaymentsUnitOfWork
from services.payments.application import application
from services.payments.application.config import Config
from services.payments.entrypoints.reconciler import gate_of
from services.payments.settings import get_payments_settings
from shared.application import Application
from shared.runtime import ServiceContext


def config(ctx: ServiceContext) -> Config:
    """The policy, the payments settings, the clock and the reconciliation gate the use cases run with."""
    return Config(ctx.settings.policy, get_payments_settings(), ctx.clock, gate_of(ctx))


def consumer(ctx: ServiceContext) -> Application[PaymentsUnitOfWork]:
    return application(config(ctx))
