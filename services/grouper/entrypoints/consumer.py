"""The grouper's consumer entrypoint: tables loaded and checked once, then the application."""

from __future__ import annotations

import gc

from services.grouper.adapters.unit_of_work import GrouperUnitOfWork
from services.grouper.application import Grouper, application
from services.grouper.domain.tables import load_grouper_tables
from services.grouper.settings import get_grouper_settings
from shared.application import Application
from shared.runtime import ServiceContext


def consumer(ctx: ServiceContext) -> Application[GrouperUnitOfWork]:
    settings = get_grouper_settings()
    tables = (
        load_grouper_tables(tariff_dir=settings.tariff_dir) if settings.tariff_dir else load_grouper_tables()
    )  # loaded and checked once at start-up: a broken table stops the service before it answers anyone
    gc.freeze()  # the tables live for the process: keep the collector from rescanning them
    return application(Grouper(tables, ctx.settings.policy, settings, ctx.clock))
