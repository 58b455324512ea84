"""Gateway settings (environment variables prefixed GATEWAY_)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    secrets_key: SecretStr = Field(
        default=SecretStr(""),
        description="Fernet key(s) sealing the hospitals' signing secrets at rest, comma-separated: the first "
        "seals, any opens (`claimsctl hospitals new-key` makes one); required outside the local stack, never logged",
    )
    timestamp_tolerance_s: int = Field(
        default=300, ge=1, description="X-timestamp must be within this many seconds of the gateway's clock"
    )
    max_body_bytes: int = Field(
        default=256 * 1024, ge=1024, description="A request body larger than this is refused 413 (unread)"
    )
    rate_per_s: float = Field(
        default=50.0, gt=0, description="Requests per second per hospital credential and gateway instance"
    )
    rate_burst: int = Field(default=100, ge=1, description="Requests a hospital may send at once above the rate")
    secret_overlap_hours: float = Field(
        default=168.0,
        ge=0,
        description="After `claimsctl hospitals rotate-secret` the old secret stays valid this long",
    )
    credential_cache_s: float = Field(
        default=10.0,
        ge=0,
        description="Credentials are re-read from the database after this long (a rotation or "
        "a new hospital takes effect within it)",
    )
    idempotency_keep_hours: int = Field(
        default=72, ge=1, description="Answers to requests with an Idempotency-Key are kept this long for retries"
    )
    page_size: int = Field(default=100, ge=1, le=1000, description="Monitor entries per page unless `limit` says")


@lru_cache(maxsize=1)
def get_gateway_settings() -> GatewaySettings:
    """Read once from the environment."""
    return GatewaySettings()
