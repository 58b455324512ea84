"""The connection options every Kafka client gets from the KAFKA_* settings."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from faststream.security import SASLPlaintext, SASLScram256, SASLScram512

from shared.kafka_security import client_options, faststream_security
from shared.settings import BrokerSettings


def test_plaintext_by_default_for_the_local_stack() -> None:
    assert client_options(BrokerSettings()) == {"security_protocol": "PLAINTEXT"}
    assert faststream_security(BrokerSettings()) is None


def test_sasl_ssl_scram_512_verifies_the_broker_and_sends_the_user() -> None:
    settings = BrokerSettings(security_protocol="SASL_SSL", sasl_username="grouper", sasl_password="s3cret")
    options = client_options(settings)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("grouper", "s3cret")
    context = options["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True
    security = faststream_security(settings)
    assert isinstance(security, SASLScram512)
    assert security.use_ssl is True
    assert (security.username, security.password) == ("grouper", "s3cret")


@pytest.mark.parametrize(("mechanism", "cls"), [("SCRAM-SHA-256", SASLScram256), ("PLAIN", SASLPlaintext)])
def test_each_mechanism_maps_to_faststream(mechanism: str, cls: type) -> None:
    settings = BrokerSettings(
        security_protocol="SASL_PLAINTEXT", sasl_mechanism=mechanism, sasl_username="u", sasl_password="p"
    )
    security = faststream_security(settings)
    assert type(security) is cls
    assert security is not None and security.use_ssl is False
    assert "ssl_context" not in client_options(settings)


def test_hostname_check_can_be_switched_off_but_the_certificate_is_still_verified() -> None:
    options = client_options(BrokerSettings(security_protocol="SSL", ssl_check_hostname=False))
    assert options["ssl_context"].check_hostname is False
    assert options["ssl_context"].verify_mode == ssl.CERT_REQUIRED


def test_password_never_shows_in_the_settings_repr() -> None:
    settings = BrokerSettings(security_protocol="SASL_SSL", sasl_username="payments", sasl_password="hunter2")
    assert "hunter2" not in repr(settings)


def test_sasl_without_a_user_is_refused_naming_the_setting() -> None:
    with pytest.raises(ValueError, match="KAFKA_SASL_USERNAME: required when KAFKA_SECURITY_PROTOCOL is SASL_SSL"):
        client_options(BrokerSettings(security_protocol="SASL_SSL", sasl_password="x"))
    with pytest.raises(ValueError, match="KAFKA_SASL_PASSWORD: required"):
        faststream_security(BrokerSettings(security_protocol="SASL_PLAINTEXT", sasl_username="verifier"))


def test_a_client_certificate_without_its_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="KAFKA_SSL_CERTFILE and KAFKA_SSL_KEYFILE: give both or neither"):
        client_options(BrokerSettings(security_protocol="SSL", ssl_certfile=tmp_path / "client.pem"))


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-256")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "notifier")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "pw")
    monkeypatch.setenv("KAFKA_SSL_CHECK_HOSTNAME", "false")
    settings = BrokerSettings()
    assert settings.security_protocol == "SASL_SSL"
    assert settings.sasl_mechanism == "SCRAM-SHA-256"
    assert settings.sasl_password.get_secret_value() == "pw"
    assert settings.ssl_check_hostname is False


def test_an_unknown_protocol_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "TLS")
    with pytest.raises(ValueError, match="security_protocol"):
        BrokerSettings()
