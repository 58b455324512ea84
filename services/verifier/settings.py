"""Verifier settings (environment variables prefixed VERIFIER_)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared import topics

# Upstream first: the grouper's input, then the verifier's own. A hospital's resubmission passes
# through both, a dispute or an operator's command only through the verifier's.
DEFAULT_SWEEP_WAITS_FOR: dict[str, list[str]] = {
    "grouper": [topics.CLAIMS_SUBMITTED],
    "verifier": [topics.CLAIMS_GROUPED, topics.CLAIMS_DISPUTED, topics.VERIFIER_COMMANDS],
}


class VerifierSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VERIFIER_", extra="ignore")

    sweep_waits_for: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_SWEEP_WAITS_FOR.items()},
        description="Consumer groups (JSON: group -> topics, upstream first, without KAFKA_TOPIC_PREFIX) that "
        "must have caught up past the day's cut-off before the daily sweep deems complete or expires anything",
    )
    sweep_retry_s: float = Field(
        default=30.0, gt=0, description="Real seconds between catch-up checks while the sweep waits for a backlog"
    )
    command_max_future_s: float = Field(
        default=300.0,
        ge=0,
        description="An operator's command whose occurred_at is further ahead of the verifier's clock than this "
        "is refused (occurred_at dates the decision, so it may not come from the future)",
    )


@lru_cache(maxsize=1)
def get_verifier_settings() -> VerifierSettings:
    """Read once from the environment."""
    return VerifierSettings()
