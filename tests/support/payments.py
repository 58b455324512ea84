"""What the payments integration tests share: a fixed clock with the schedule off, and the service's pool."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import datetime

import asyncpg
import pytest

from services.payments.service import SPEC
from services.payments.settings import get_payments_settings
from shared import db
from shared.clock import FixedClock, set_clock
from tests.support.services import Lane


def payments_clock(monkeypatch: pytest.MonkeyPatch, at: datetime) -> Iterator[FixedClock]:
    """A fixed clock at `at`; runs happen when the test asks (the daily schedule is off)."""
    monkeypatch.setenv("PAYMENTS_SCHEDULE_ENABLED", "false")
    get_payments_settings.cache_clear()
    fixed = FixedClock(at)
    set_clock(fixed)
    yield fixed
    set_clock(None)
    get_payments_settings.cache_clear()


@asynccontextmanager
async def payments_pool(lane: Lane) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the lane's payments schema, migrated as the service would."""
    spec = lane.isolate(SPEC)
    await db.migrate(lane.stack.database_url, spec.schema, *([spec.migrations] if spec.migrations else []))
    pool = await db.create_pool(lane.stack.database_url, spec.schema)
    try:
        yield pool
    finally:
        await pool.close()
