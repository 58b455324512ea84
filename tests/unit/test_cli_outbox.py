"""`claimsctl outbox` refuses what it cannot act on, naming the option, before touching any database."""

from __future__ import annotations

from typer.testing import CliRunner

from shared.cli import app


def test_an_unknown_service_is_refused_naming_the_option_and_the_known_services() -> None:
    result = CliRunner().invoke(app, ["outbox", "failed", "--service", "apotek"])
    assert result.exit_code == 2
    known = "grouper, verifier, payments, notifier, gateway, console"
    assert f"--service: no service named 'apotek' (known: {known})" in result.output


def test_retry_needs_the_schema_the_id_belongs_to() -> None:
    result = CliRunner().invoke(app, ["outbox", "retry", "42"])
    assert result.exit_code == 2
    assert "ID is per schema: name the row's --service (or --schema)" in result.output
