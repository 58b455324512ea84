"""Fixtures: the real broker and database for integration and e2e tests."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from deploy.local import Stack, start_stack
from shared import db
from tests.support.broker_quirks import leave_groups_from_generation_zero
from tests.support.services import Lane, new_lane

leave_groups_from_generation_zero()  # a stopped consumer leaves its tansu group at once, as on Kafka


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """One real PostgreSQL and one real Kafka-protocol broker for the whole run."""
    s = start_stack()
    os.environ.setdefault("KAFKA_BOOTSTRAP_SERVERS", s.bootstrap_servers)
    os.environ.setdefault("DATABASE_URL", s.database_url)
    os.environ.setdefault("NOTIFIER_SECRETS_KEY", s.notifier_secrets_key)  # the notifier refuses to run without
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def schema() -> str:
    """A fresh schema name per test, so tests never see each other's rows."""
    return f"t_{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def pool(stack: Stack, schema: str) -> AsyncIterator[asyncpg.Pool]:
    from pathlib import Path

    await db.migrate(stack.database_url, schema, Path(__file__).parent / "integration" / "migrations")
    p = await db.create_pool(stack.database_url, schema, max_size=4)
    try:
        yield p
    finally:
        await p.close()


@pytest.fixture
async def lane(stack: Stack) -> Lane:
    """A test's own topics (a fresh prefix) and schema suffix on the session's stack."""
    return await new_lane(stack)
