"""Hospital signing secrets sealed at rest: Fernet (`cryptography`) with GATEWAY_SECRETS_KEY.

VClaim-style HMAC signatures need the secret itself, so it cannot be stored hashed: the gateway's tables
hold Fernet tokens only, and a dump of its schema without the key reveals no secret. The setting may list
several keys (comma-separated): the first seals, any of them opens, so the key itself can be rotated.
The mechanism is shared (shared/sealing.py); the notifier seals its webhook secrets the same way with its own key.
"""

from __future__ import annotations

from pathlib import Path

from services.gateway.settings import GatewaySettings
from shared import sealing
from shared.sealing import MissingSecretsKey, UnreadableSecret, keys_of, new_key

__all__ = ["LOCAL_KEY_FILE", "MissingSecretsKey", "SecretBox", "UnreadableSecret", "new_key", "secret_box"]

KEY_SETTING = "GATEWAY_SECRETS_KEY"
# `make run` keeps its generated key here (deploy/run.py), so claimsctl beside it finds the same one.
LOCAL_KEY_FILE = Path(".local/gateway-secrets.key")


class SecretBox(sealing.SecretBox):
    """Seals and opens hospitals' signing secrets with GATEWAY_SECRETS_KEY."""

    key_setting = KEY_SETTING
    secret_kind = "hospital secret"
    new_key_command = "claimsctl hospitals new-key"


def secret_box(settings: GatewaySettings) -> SecretBox:
    """GATEWAY_SECRETS_KEY, else (only beside a running `make run`) the key it keeps in .local/."""
    from shared.runtime import STACK_ENV

    value = settings.secrets_key.get_secret_value()
    if not value and STACK_ENV.exists() and LOCAL_KEY_FILE.exists():
        value = LOCAL_KEY_FILE.read_text().strip()
    keys = keys_of(value)
    if not keys:
        raise MissingSecretsKey(
            f"{KEY_SETTING} is not set: hospital secrets are sealed with it. Generate one with "
            "`claimsctl hospitals new-key` and give the gateway and claimsctl the same value."
        )
    return SecretBox(keys)
