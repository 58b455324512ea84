"""The grouper service: ICD validation and INA-CBG grouping with versioned tariff tables."""

from __future__ import annotations

import gc
from pathlib import Path

from services.grouper.domain.tables import load_grouper_tables
from services.grouper.entrypoints.handlers import Grouper, make_handler
from services.grouper.settings import get_grouper_settings
from shared import topics
from shared.consumer import Handler
from shared.events import ClaimSubmitted
from shared.runtime import Consumes, ServiceContext, ServiceSpec


def _handler(ctx: ServiceContext) -> Handler:
    settings = get_grouper_settings()
    tables = (
        load_grouper_tables(tariff_dir=settings.tariff_dir) if settings.tariff_dir else load_grouper_tables()
    )  # loaded and checked once at start-up: a broken table stops the service before it answers anyone
    gc.freeze()  # the tables live for the process: keep the collector from rescanning them
    return make_handler(Grouper(tables, ctx.settings.policy, settings, ctx.clock))


SPEC = ServiceSpec(
    name="grouper",
    schema="grouper",
    migrations=Path(__file__).parent / "migrations",
    consumes=[Consumes("grouper", {topics.CLAIMS_SUBMITTED: (ClaimSubmitted,)}, _handler)],
    default_http_port=8081,
)
