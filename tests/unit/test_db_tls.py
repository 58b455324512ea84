"""DB_SSLMODE and DB_SSLROOTCERT reach every connection as libpq parameters of the DSN."""

from __future__ import annotations

from pathlib import Path

from shared import db
from shared.settings import DatabaseSettings


def test_the_dsn_names_the_tls_settings() -> None:
    settings = DatabaseSettings(db_sslmode="verify-full", db_sslrootcert=Path("/etc/jkn/pg-ca.pem"))
    assert (
        db.with_tls("postgresql://jkn_grouper:pw@db.internal:5432/jkn", settings)
        == "postgresql://jkn_grouper:pw@db.internal:5432/jkn?sslmode=verify-full&sslrootcert=%2Fetc%2Fjkn%2Fpg-ca.pem"
    )


def test_a_parameter_the_dsn_names_itself_wins() -> None:
    settings = DatabaseSettings(db_sslmode="verify-full", db_sslrootcert=Path("/etc/jkn/pg-ca.pem"))
    assert (
        db.with_tls("postgresql://u@h/jkn?sslmode=require", settings)
        == "postgresql://u@h/jkn?sslmode=require&sslrootcert=%2Fetc%2Fjkn%2Fpg-ca.pem"
    )


def test_the_defaults_leave_the_dsn_as_it_is() -> None:
    assert db.with_tls("postgresql://u@h/jkn", DatabaseSettings()) == "postgresql://u@h/jkn"


def test_a_service_dsn_keeps_server_database_and_parameters_and_changes_only_the_login() -> None:
    assert (
        db.with_role("postgresql://postgres@127.0.0.1:5432/postgres?sslmode=require", "jkn_payments", "s3cret")
        == "postgresql://jkn_payments:s3cret@127.0.0.1:5432/postgres?sslmode=require"
    )
    assert db.with_role("postgresql://jkn:pw@db:5432/jkn", "jkn_grouper") == "postgresql://jkn_grouper@db:5432/jkn"
