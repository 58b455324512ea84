"""Settings from environment variables (pydantic-settings). The README has the table."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.policy_types import DayUnit, PenaltyMethod

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_SSL", "SASL_PLAINTEXT"]
SaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]
SslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]


class BrokerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore")

    bootstrap_servers: str = Field(default="", description="host:port list; empty: resolved by the local stack")
    topic_prefix: str = Field(
        default="", description="Prefix on every topic and consumer group, to keep environments apart on one cluster"
    )
    enable_idempotence: bool = Field(
        default=False, description="Idempotent producer (Apache Kafka yes; the local tansu broker does not support it)"
    )
    session_timeout_ms: int = Field(default=10_000, description="Consumer session timeout")
    max_batch: int = Field(default=500, description="Most records handled in one database transaction")
    batch_timeout_ms: int = Field(default=50, description="Longest wait to fill a batch")
    fetch_max_wait_ms: int = Field(
        default=100, description="Longest a fetch waits for data (tansu holds every fetch this long: latency per hop)"
    )
    max_record_bytes: int = Field(
        default=256 * 1024, description="A consumed record larger than this is dead-lettered `too-large` unparsed"
    )
    max_output_bytes: int = Field(
        default=1_000_000,
        description="An outgoing record larger than this is refused when written (the producer's limit is 1 MiB); "
        "the event producing it is dead-lettered `output-too-large`",
    )
    # Every client (services, relay, claimsctl, simulator, bench) connects through shared/kafka_security.py.
    security_protocol: SecurityProtocol = Field(
        default="PLAINTEXT", description="PLAINTEXT, SSL, SASL_SSL or SASL_PLAINTEXT (Compose and Kubernetes: SASL_SSL)"
    )
    sasl_mechanism: SaslMechanism = Field(
        default="SCRAM-SHA-512", description="SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN (with a SASL_* protocol)"
    )
    sasl_username: str = Field(default="", description="SASL user: the service's or operator's own principal")
    sasl_password: SecretStr = Field(default=SecretStr(""), description="SASL password (never logged)")
    ssl_cafile: Path | None = Field(
        default=None, description="CA certificate(s) (PEM) the broker's certificate must chain to; empty: the system's"
    )
    ssl_certfile: Path | None = Field(default=None, description="Client certificate (PEM), for brokers that ask one")
    ssl_keyfile: Path | None = Field(default=None, description="The client certificate's private key (PEM)")
    ssl_check_hostname: bool = Field(
        default=True, description="The broker's certificate must name the host connected to (keep on outside tests)"
    )


class DatabaseSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    database_url: str = Field(
        default="",
        description="postgresql://... as this process's own role (each service its own, deploy/README.md "
        '"Database roles"); empty: resolved by the local stack',
    )
    db_pool_min: int = Field(default=1, description="Smallest connection pool per service instance")
    db_pool_max: int = Field(default=5, description="Largest connection pool per service instance")
    db_sslmode: SslMode = Field(
        default="prefer",
        description="TLS to PostgreSQL for every connection (libpq's modes; production: verify-full); "
        "an sslmode in the DSN itself wins",
    )
    db_sslrootcert: Path | None = Field(
        default=None, description="CA certificate (PEM) that signed the server's, for verify-ca / verify-full"
    )
    database_admin_url: str = Field(
        default="",
        description="Only `claimsctl db provision` (the migrate job): a DSN that may create roles and schemas; "
        "never given to a service; empty: DATABASE_URL",
    )
    db_password_grouper: str = Field(default="", description="`claimsctl db provision`: password of jkn_grouper")
    db_password_verifier: str = Field(default="", description="`claimsctl db provision`: password of jkn_verifier")
    db_password_payments: str = Field(default="", description="`claimsctl db provision`: password of jkn_payments")
    db_password_notifier: str = Field(default="", description="`claimsctl db provision`: password of jkn_notifier")
    db_password_gateway: str = Field(default="", description="`claimsctl db provision`: password of jkn_gateway")
    db_password_console: str = Field(default="", description="`claimsctl db provision`: password of jkn_console")
    db_password_claimsctl: str = Field(
        default="", description="`claimsctl db provision`: password of jkn_claimsctl (operators: views, `ops` audit)"
    )
    db_password_claimsctl_ro: str = Field(
        default="", description="`claimsctl db provision`: password of jkn_claimsctl_ro (read-only views)"
    )


class ClockSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLOCK_", extra="ignore")

    mode: Literal["real", "fixed", "simulated"] = Field(
        default="real", description="real; fixed (tests: time stands still); simulated (replay weeks in minutes)"
    )
    start: datetime | None = Field(default=None, description="Fixed instant, or the simulated clock's start")
    speed: float = Field(default=1.0, gt=0, description="Simulated seconds per real second (86400: a day a second)")
    anchor: datetime | None = Field(
        default=None,
        description="Real instant at which simulated time reads CLOCK_START; set it (same value) on every "
        "process so they agree; empty: each process's own start",
    )


class PolicySettings(BaseSettings):
    """The policy values of DOMAIN.md, each with its documented default."""

    model_config = SettingsConfigDict(env_prefix="POLICY_", extra="ignore")

    business_timezone: str = Field(default="Asia/Jakarta", description="Zone of business dates (deadlines)")
    payment_days: int = Field(default=15, description="Perpres 19/2016 Art. 38(1)(c)")
    payment_day_unit: DayUnit = Field(default="working", description="Some branches count calendar days")
    completeness_days: int = Field(default=10, description="Peraturan BPJS 7/2018 Art. 30: deemed complete")
    completeness_day_unit: DayUnit = Field(default="calendar", description="Unit of the completeness window")
    pending_resubmit_working_days: int = Field(default=7, description="Hospital resubmits a pended claim within")
    dispute_working_days: int = Field(default=14, description="Hospital disputes a decision within")
    claim_expiry_months: int = Field(default=6, description="Claims submitted later than this after discharge")
    penalty_method: PenaltyMethod = Field(default="daily_pro_rata", description="How a part month of delay counts")
    cuti_bersama_are_holidays: bool = Field(default=True, description="Collective leave days are not working days")
    calendar_overrides_file: Path | None = Field(
        default=None,
        description="Calendar CSV (date,action,name) used instead of the shipped shared/data/calendar_overrides.csv",
    )
    sub_acute_from_day: int = Field(default=43, description="Length-of-stay phase: sub-acute from this day")
    chronic_from_day: int = Field(default=103, description="Length-of-stay phase: chronic from this day")


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SERVICE_", extra="ignore")

    http_host: str = Field(default="127.0.0.1", description="Health and metrics listener")
    http_port: int = Field(
        default=0,
        description="0: the service's own default (grouper 8081, verifier 8082, payments 8083, notifier 8084, "
        "gateway 8085, console 8086)",
    )
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING, ERROR")
    log_format: Literal["json", "console"] = Field(default="json", description="json lines, or console for people")
    shutdown_timeout_s: float = Field(default=20.0, description="Graceful shutdown budget on SIGTERM")
    retry_attempts: int = Field(default=5, description="Transient failures retried this often before giving up")
    retry_base_delay_s: float = Field(default=0.2, description="First backoff delay, doubled each attempt")
    outbox_batch: int = Field(default=500, description="Outbox rows published per relay round")
    stall_after_s: float = Field(
        default=120.0,
        gt=0,
        description="/health/live fails when the leading relay or a consumer has had work waiting this long "
        "without progress",
    )


class OperatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPERATORS_", extra="ignore")

    registry_file: Path | None = Field(
        default=None,
        description="Operator registry (TOML: operators, roles, Ed25519 public keys) the services trust for "
        "signed commands; empty: the shipped example shared/data/operators.toml",
    )
    command_max_age_days: int = Field(
        default=30,
        gt=0,
        description="A signed command older than this when consumed is refused (STALE-COMMAND): well inside the "
        "120 days the inbox remembers event ids, so a replayed old command can never apply again",
    )


class TracingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRACING_", extra="ignore")

    otlp_endpoint: str = Field(
        default="",
        description="OTLP/HTTP traces URL spans are exported to (e.g. http://otel-collector:4318/v1/traces); "
        "empty: tracing off (no spans, no exporter; the W3C traceparent is neither read nor written)",
    )
    export_delay_ms: int = Field(default=5000, gt=0, description="Longest a finished span waits to be exported")
    sample_ratio: float = Field(
        default=1.0, ge=0, le=1, description="Share of new traces recorded; a trace begun upstream keeps its choice"
    )


class ClaimsctlSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLAIMSCTL_", extra="ignore")

    operator: str = Field(default="", description="The operator id claimsctl signs commands as (--operator)")
    operator_key: Path | None = Field(
        default=None, description="The operator's Ed25519 private key file (PEM) claimsctl signs with (--key)"
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    broker: BrokerSettings = Field(default_factory=BrokerSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    clock: ClockSettings = Field(default_factory=ClockSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    operators: OperatorSettings = Field(default_factory=OperatorSettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings, read once from the environment."""
    return Settings()


def settings_classes() -> list[type[BaseSettings]]:
    """The shared settings groups, then each service's own (services/<name>/settings.py), in that order."""
    import importlib
    import inspect

    found: list[type[BaseSettings]] = [
        BrokerSettings, DatabaseSettings, ClockSettings, PolicySettings, ServiceSettings, OperatorSettings,
        ClaimsctlSettings, TracingSettings,
    ]  # fmt: skip
    for name in ("grouper", "verifier", "payments", "notifier", "gateway", "console"):
        try:
            module = importlib.import_module(f"services.{name}.settings")
        except ModuleNotFoundError:
            continue
        found += [
            c for _, c in inspect.getmembers(module, inspect.isclass)
            if issubclass(c, BaseSettings) and c.__module__ == module.__name__
        ]  # fmt: skip
    return found


def env_table() -> list[tuple[str, str, str]]:
    """(environment variable, default, description) for every setting, for the README."""
    rows: list[tuple[str, str, str]] = []
    for group in settings_classes():
        prefix = str(group.model_config.get("env_prefix", ""))
        for name, info in group.model_fields.items():
            default = info.get_default(call_default_factory=True)
            rows.append(((prefix + name).upper(), "" if default is None else str(default), info.description or ""))
    return rows
