"""A redrive from /operations publishes as the redrive tool when the console is given its credentials.

The console's own broker user may not write the source topics (tests/integration/test_broker_security.py
keeps claims.verified to the verifier and the redrive tool), so without them a redrive is refused whole.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.console.adapters.operations_queries import _as_redrive_tool
from services.console.settings import get_console_settings
from shared.settings import Settings


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    get_console_settings.cache_clear()
    yield
    get_console_settings.cache_clear()


def test_a_redrive_publishes_as_the_redrive_tool_when_configured(
    monkeypatch: pytest.MonkeyPatch, fresh_settings: None
) -> None:
    monkeypatch.setenv("CONSOLE_REDRIVE_SASL_USERNAME", "claimsctl-redrive")
    monkeypatch.setenv("CONSOLE_REDRIVE_SASL_PASSWORD", "s3cret")
    own = Settings()
    own.broker.sasl_username = "console"
    redrive = _as_redrive_tool(own)
    assert redrive.broker.sasl_username == "claimsctl-redrive"
    assert redrive.broker.sasl_password.get_secret_value() == "s3cret"
    assert own.broker.sasl_username == "console"  # the console's other producers keep its own principal


def test_without_them_a_redrive_uses_the_consoles_own_user(
    monkeypatch: pytest.MonkeyPatch, fresh_settings: None
) -> None:
    monkeypatch.delenv("CONSOLE_REDRIVE_SASL_USERNAME", raising=False)
    own = Settings()
    own.broker.sasl_username = "console"
    assert _as_redrive_tool(own).broker.sasl_username == "console"
