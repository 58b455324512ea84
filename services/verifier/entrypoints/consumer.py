"""The verifier's consumer entrypoint: the application from the deployment's settings."""

from __future__ import annotations

from services.verifier.adapters.unit_of_work import VerifierUnitOfWork
from services.verifier.application import application, make_verifier
from shared.application import Application
from shared.runtime import ServiceContext


def consumer(ctx: ServiceContext) -> Application[VerifierUnitOfWork]:
    return application(make_verifier(ctx.settings.policy, ctx.clock))
