"""How every Kafka client of the project connects: TLS and SASL from the KAFKA_* settings.

One place builds the connection options, so a service's FastStream broker, its producer and outbox
relay, `claimsctl`, the simulator, the bench and the deploy jobs all authenticate the same way:
`client_options()` for aiokafka clients (producer, consumer, admin) and `faststream_security()` for
FastStream's `KafkaBroker(security=...)`.
"""

from __future__ import annotations

import ssl
from typing import Any

from aiokafka.helpers import create_ssl_context
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from shared.settings import BrokerSettings, get_settings

TLS_PROTOCOLS = frozenset({"SSL", "SASL_SSL"})
SASL_PROTOCOLS = frozenset({"SASL_SSL", "SASL_PLAINTEXT"})


def _broker(settings: BrokerSettings | None) -> BrokerSettings:
    return settings if settings is not None else get_settings().broker


def check(settings: BrokerSettings) -> None:
    """Refuse a configuration that cannot authenticate, naming the setting and the rule."""
    if settings.security_protocol in SASL_PROTOCOLS:
        if not settings.sasl_username:
            raise ValueError(
                f"KAFKA_SASL_USERNAME: required when KAFKA_SECURITY_PROTOCOL is {settings.security_protocol}"
            )
        if not settings.sasl_password.get_secret_value():
            raise ValueError(
                f"KAFKA_SASL_PASSWORD: required when KAFKA_SECURITY_PROTOCOL is {settings.security_protocol}"
            )
    if (settings.ssl_certfile is None) != (settings.ssl_keyfile is None):
        raise ValueError("KAFKA_SSL_CERTFILE and KAFKA_SSL_KEYFILE: give both or neither")


def ssl_context(settings: BrokerSettings | None = None) -> ssl.SSLContext | None:
    """The TLS context for SSL and SASL_SSL (None for the plaintext protocols).

    The broker's certificate is always verified (against KAFKA_SSL_CAFILE, else the system's CAs);
    only the host name check can be switched off, for a test certificate issued to another name.
    """
    s = _broker(settings)
    if s.security_protocol not in TLS_PROTOCOLS:
        return None
    context: ssl.SSLContext = create_ssl_context(cafile=s.ssl_cafile, certfile=s.ssl_certfile, keyfile=s.ssl_keyfile)
    context.check_hostname = s.ssl_check_hostname
    return context


def client_options(settings: BrokerSettings | None = None) -> dict[str, Any]:
    """Keyword arguments for AIOKafkaProducer / AIOKafkaConsumer / AIOKafkaAdminClient (default: the env)."""
    s = _broker(settings)
    check(s)
    options: dict[str, Any] = {"security_protocol": s.security_protocol}
    context = ssl_context(s)
    if context is not None:
        options["ssl_context"] = context
    if s.security_protocol in SASL_PROTOCOLS:
        options.update(
            sasl_mechanism=s.sasl_mechanism,
            sasl_plain_username=s.sasl_username,
            sasl_plain_password=s.sasl_password.get_secret_value(),
        )
    return options


def faststream_security(settings: BrokerSettings | None = None) -> BaseSecurity | None:
    """The same connection for FastStream's KafkaBroker (None: plaintext, unauthenticated)."""
    s = _broker(settings)
    check(s)
    context = ssl_context(s)
    use_ssl = s.security_protocol in TLS_PROTOCOLS
    if s.security_protocol not in SASL_PROTOCOLS:
        return BaseSecurity(ssl_context=context) if use_ssl else None
    mechanisms: dict[str, type[SASLPlaintext | SASLScram256 | SASLScram512]] = {
        "SCRAM-SHA-512": SASLScram512,
        "SCRAM-SHA-256": SASLScram256,
        "PLAIN": SASLPlaintext,
    }
    return mechanisms[s.sasl_mechanism](
        s.sasl_username, s.sasl_password.get_secret_value(), ssl_context=context, use_ssl=use_ssl
    )
