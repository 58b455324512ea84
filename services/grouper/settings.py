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
        default=75, ge=0, le=100, description="Share of the class-1 tariff a patient pays to upgrade above class 1"
    )


@lru_cache(maxsize=1)
def get_grouper_settings() -> GrouperSettings:
    """Read once from the environment."""
    return GrouperSettings()
