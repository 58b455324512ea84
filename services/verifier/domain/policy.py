"""Verifier policy settings (DOMAIN.md "Deadlines"), passed in: the domain never reads the environment."""

from __future__ import annotations

from dataclasses import dataclass

from shared.policy_types import DayUnit


@dataclass(frozen=True)
class VerificationPolicy:
    """Defaults are DOMAIN.md's; the adapter builds this from `shared.settings.PolicySettings`."""

    completeness_days: int = 10
    completeness_day_unit: DayUnit = "calendar"
    resubmit_working_days: int = 7
    dispute_working_days: int = 14
    reminder_working_days: int = 2
    claim_expiry_months: int = 6
    readmission_days: int = 30
