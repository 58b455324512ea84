"""Grouper settings (environment variables prefixed GROUPER_)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class GrouperSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GROUPER_", extra="ignore")

    tariff_dir: Path | None = Field(
        default=None, description="Directory of tariff tables (manifests + CSVs); default: the shipped sample"
    )
    upgrade_above_class1_percent: int = Field(
        default=75,
        ge=0,
        le=75,
        description="Share (percent) of the class-1 tariff a member pays to upgrade above class 1 when the "
        "hospital declares no add_payment_pct; PMK 3/2023 Art. 48 caps the share at 75",
    )
    executive_outpatient_max: int = Field(
        default=400_000,
        ge=0,
        description="Most a member pays (rupiah, per visit) for outpatient executive care; PMK 3/2023 Art. 48",
    )


@lru_cache(maxsize=1)
def get_grouper_settings() -> GrouperSettings:
    """Read once from the environment."""
    return GrouperSettings()
