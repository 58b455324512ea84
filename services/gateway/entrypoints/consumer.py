"""The read model's consumer entrypoint: the application, nothing loaded."""

from __future__ import annotations

from services.gateway.adapters.unit_of_work import GatewayUnitOfWork
from services.gateway.application.monitoring import application
from shared.application import Application
from shared.runtime import ServiceContext


def consumer(ctx: ServiceContext) -> Application[GatewayUnitOfWork]:
    return application()
