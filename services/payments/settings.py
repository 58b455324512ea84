"""Payments settings (environment variables prefixed PAYMENTS_)."""

from __future__ import annotations

from datetime import time
from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class PaymentsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAYMENTS_", extra="ignore")

    schedule_enabled: bool = Field(
        default=True,
        description="Run a payment every working day at schedule_time, paying at most the funds finance allocated "
        "and approved for the day (FundsAllocated + ApprovalGranted); nothing without an allocation",
    )
    schedule_time: time = Field(default=time(10, 0), description="Local time (business zone) of the daily run")
    dispute_due_from_original: bool = Field(
        default=True,
        description="A supplementary amount after an upheld dispute (verification_seq >= 1) is due on the claim's "
        "original due date, so the late penalty covers the whole delay; false: its own verified_on + payment_days",
    )
    deadline_warning_working_days: int = Field(
        default=3, ge=1, description="Publish payments.deadline-approaching this many working days before due"
    )


@lru_cache(maxsize=1)
def get_payments_settings() -> PaymentsSettings:
    """Read once from the environment."""
    return PaymentsSettings()
