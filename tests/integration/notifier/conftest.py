"""Fixtures of the notifier's integration tests: a real HTTP receiver, a real SMTP server, one notifier."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from deploy.local import Stack
from tests.integration.notifier.notifier_support import Notifier, Receiver, SmtpServer, notifier_settings, start_smtp


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    try:
        yield r
    finally:
        await r.stop()


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpServer]:
    server = await start_smtp()
    try:
        yield server
    finally:
        await asyncio.to_thread(server.controller.stop)


@pytest.fixture
async def notifier(stack: Stack, schema: str, smtp: SmtpServer) -> Notifier:
    n = Notifier(stack, schema, notifier_settings(smtp.port))
    await n.create_topics()
    return n
