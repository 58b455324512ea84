"""Webhook secrets sealed at rest with NOTIFIER_SECRETS_KEY (the mechanism: shared/sealing.py).

The setting may list several keys (comma-separated): the first seals, any of them opens, so
the key itself can be rotated (`claimsctl notify reseal` re-seals every secret with the
first key; then the old key can be dropped).
"""

from __future__ import annotations

from services.notifier.settings import NotifierSettings
from shared import sealing
from shared.sealing import MissingSecretsKey, UnreadableSecret, keys_of, new_key

__all__ = ["MissingSecretsKey", "SecretBox", "UnreadableSecret", "new_key", "secret_box"]

KEY_SETTING = "NOTIFIER_SECRETS_KEY"


class SecretBox(sealing.SecretBox):
    """Seals and opens webhook secrets with NOTIFIER_SECRETS_KEY."""

    key_setting = KEY_SETTING
    secret_kind = "webhook secret"
    new_key_command = "claimsctl notify new-key"


def configured_keys(settings: NotifierSettings) -> list[str]:
    """NOTIFIER_SECRETS_KEY, else the running local stack's (`make run` generates one per stack).

    Outside the local stack a missing key is an error at start-up, never a generated key:
    a key nobody kept would make every stored secret unreadable after a restart.
    """
    value = settings.secrets_key.get_secret_value()
    if not value:
        value = _local_stack_key()
    keys = keys_of(value)
    if not keys:
        raise MissingSecretsKey(
            f"{KEY_SETTING} is not set: webhook secrets are sealed at rest with it. Generate one with "
            f"`claimsctl notify new-key`, keep it in your secret store and give the notifier and claimsctl the same "
            "value (deploy/README.md, 'Webhooks')."
        )
    return keys


def secret_box(settings: NotifierSettings) -> SecretBox:
    return SecretBox(configured_keys(settings))


def _local_stack_key() -> str:
    from shared.runtime import STACK_ENV

    if not STACK_ENV.exists():
        return ""
    found = dict(line.split("=", 1) for line in STACK_ENV.read_text().splitlines() if "=" in line)
    return found.get(KEY_SETTING, "")
