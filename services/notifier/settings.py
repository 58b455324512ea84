"""The notifier's own settings (environment variables prefixed NOTIFIER_)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.notifier.domain.destinations import AllowEntry, parse_allow_list

SmtpSecurity = Literal["auto", "starttls", "tls", "none"]


class NotifierSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFIER_", extra="ignore")

    smtp_host: str = Field(default="localhost", description="SMTP server that relays the e-mails")
    smtp_port: int = Field(default=25, description="SMTP server port")
    smtp_from: str = Field(default="noreply@jkn-claims.local", description="From address of every e-mail")
    smtp_username: str = Field(default="", description="SMTP login; empty: no authentication")
    smtp_password: SecretStr = Field(default=SecretStr(""), description="SMTP password (never logged)")
    smtp_security: SmtpSecurity = Field(
        default="auto", description="auto (STARTTLS when offered), starttls (required), tls (implicit), none"
    )
    smtp_timeout_s: float = Field(default=10.0, gt=0, description="Longest SMTP conversation per attempt")
    smtp_local_hostname: str = Field(default="jkn-notifier", description="Name sent in EHLO")
    webhook_timeout_s: float = Field(default=10.0, gt=0, description="Longest webhook request per attempt")
    max_attempts: int = Field(default=10, ge=1, description="Attempts per delivery before it is dead-lettered")
    backoff_base_s: float = Field(default=5.0, gt=0, description="First retry delay, doubled per attempt (jittered)")
    backoff_max_s: float = Field(default=1800.0, gt=0, description="Longest retry delay, also caps Retry-After")
    concurrency: int = Field(default=16, ge=1, description="Deliveries in flight at once per instance")
    per_subscription_concurrency: int = Field(
        default=4, ge=1, description="Deliveries in flight at once to one receiver (a slow one cannot hold up others)"
    )
    lease_s: float = Field(
        default=60.0, gt=0, description="A claimed delivery is retried by any instance once its lease expires"
    )
    poll_interval_s: float = Field(default=1.0, gt=0, description="Longest idle wait between due checks")
    webhook_allow: str = Field(
        default="",
        description="Webhook receivers allowed although loopback, private, link-local, CGNAT or otherwise not "
        "public: host[:port], address[:port], [v6]:port or CIDR, comma-separated; empty: public receivers only",
    )
    secrets_key: SecretStr = Field(
        default=SecretStr(""),
        description="Fernet key(s) sealing webhook secrets at rest, comma-separated: the first seals, any opens "
        "(`claimsctl notify new-key` makes one); required outside the local stack, never logged",
    )

    @model_validator(mode="after")
    def _lease_outlasts_a_request(self) -> NotifierSettings:
        longest = max(self.webhook_timeout_s, self.smtp_timeout_s)
        if self.lease_s <= 2 * longest:
            raise ValueError(f"NOTIFIER_LEASE_S ({self.lease_s}) must exceed twice the longest timeout ({longest})")
        return self

    @model_validator(mode="after")
    def _allow_list_parses(self) -> NotifierSettings:
        parse_allow_list(self.webhook_allow)  # a typo is a start-up error, not a silently empty list
        return self

    def allow_list(self) -> tuple[AllowEntry, ...]:
        """NOTIFIER_WEBHOOK_ALLOW, parsed."""
        return parse_allow_list(self.webhook_allow)


@lru_cache(maxsize=1)
def get_notifier_settings() -> NotifierSettings:
    """Read once from the environment."""
    return NotifierSettings()


def env_table() -> list[tuple[str, str, str]]:
    """(environment variable, default, description) for the README table."""
    rows: list[tuple[str, str, str]] = []
    for name, info in NotifierSettings.model_fields.items():
        default = info.get_default(call_default_factory=True)
        shown = "" if default is None or isinstance(default, SecretStr) else str(default)
        rows.append((f"NOTIFIER_{name.upper()}", shown, info.description or ""))
    return rows
