"""Operators' Ed25519 signing keys sealed at rest: Fernet (shared/sealing.py) with CONSOLE_SECRETS_KEY.

The console signs each command server-side with the signed-in operator's own key, so it must hold the key
itself: its tables keep only Fernet tokens, and a dump of its schema without the key reveals no key.
"""

from __future__ import annotations

from pathlib import Path

from services.console.settings import ConsoleSettings
from shared import sealing
from shared.sealing import MissingSecretsKey, keys_of, new_key

KEY_SETTING = "CONSOLE_SECRETS_KEY"
# Beside a running local stack (`make run`), the key kept here is used when the setting is empty.
LOCAL_KEY_FILE = Path(".local/console-secrets.key")


class SecretBox(sealing.SecretBox):
    """Seals and opens operators' private keys with CONSOLE_SECRETS_KEY."""

    key_setting = KEY_SETTING
    secret_kind = "operator signing key"
    new_key_command = "claimsctl console new-key"


def secret_box(settings: ConsoleSettings, *, create_local: bool = False) -> SecretBox:
    """CONSOLE_SECRETS_KEY, else (only beside a running local stack) the key kept in .local/.

    `create_local` makes that local key when there is none yet (the first `accounts add` on the local stack).
    """
    from shared.runtime import STACK_ENV

    value = settings.secrets_key.get_secret_value()
    if not value and STACK_ENV.exists():
        if create_local and not LOCAL_KEY_FILE.exists():
            LOCAL_KEY_FILE.write_text(new_key() + "\n")
            LOCAL_KEY_FILE.chmod(0o600)
        if LOCAL_KEY_FILE.exists():
            value = LOCAL_KEY_FILE.read_text().strip()
    keys = keys_of(value)
    if not keys:
        raise MissingSecretsKey(
            f"{KEY_SETTING} is not set: operators' signing keys are sealed with it. Generate one with "
            "`claimsctl console new-key` and give the console and claimsctl the same value."
        )
    return SecretBox(keys)
