"""Console settings (environment variables prefixed CONSOLE_)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONSOLE_", extra="ignore")

    secrets_key: SecretStr = Field(
        default=SecretStr(""),
        description="Fernet key(s) sealing the operators' signing keys at rest, comma-separated: the first seals, "
        "any opens (`claimsctl console new-key` makes one); required outside the local stack, never logged",
    )
    secure_cookies: bool = Field(
        default=True,
        description="Session cookies only over HTTPS (Secure); turn off only for the local stack on plain HTTP",
    )
    session_hours: float = Field(default=8.0, gt=0, description="A sign-in lasts this long (one working shift)")
    max_failed_sign_ins: int = Field(default=3, ge=1, description="Wrong passwords in a row that lock an account")
    lockout_minutes: float = Field(
        default=15.0, gt=0, description="How long a locked account stays locked (`claimsctl console accounts unlock`)"
    )
    verifier_schema: str = Field(default="verifier", description="The verifier's schema the queues are read from")
    payments_schema: str = Field(default="payments", description="The payments schema the queues are read from")
    hospital_zones: str = Field(
        default="",
        description="kode_rs=zone pairs, comma-separated (e.g. 1701R001=Asia/Makassar): a hospital's dates in "
        "WITA or WIT; any other hospital's in WIB",
    )
    default_language: str = Field(default="id", pattern="^(id|en)$", description="id (Bahasa Indonesia) or en")
    # The console's own broker user may not write the source topics (only their owners and the redrive tool
    # may: a forged claims.verified is refused at the broker), so a redrive publishes as the redrive tool.
    redrive_sasl_username: str = Field(
        default="",
        description="SASL user a DLQ redrive from /operations publishes as (the `claimsctl-redrive` principal); "
        "empty: the console's own broker user (enough on the local stack, refused by the broker's ACLs elsewhere)",
    )
    redrive_sasl_password: SecretStr = Field(
        default=SecretStr(""), description="That user's SASL password (never logged)"
    )


@lru_cache(maxsize=1)
def get_console_settings() -> ConsoleSettings:
    """Read once from the environment."""
    return ConsoleSettings()
