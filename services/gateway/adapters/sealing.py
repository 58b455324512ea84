"""Hospital signing secrets sealed at rest: Fernet (`cryptography`) with GATEWAY_SECRETS_KEY.

VClaim-style HMAC signatures need the secret itself, so it cannot be stored hashed: the gateway's tables
hold Fernet tokens only, and a dump of its schema without the key reveals no secret. The setting may list
several keys (comma-separated): the first seals, any of them opens, so the key itself can be rotated.
Like the notifier's (services/notifier/adapters/sealing.py), kept apart so neither service imports the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from services.gateway.settings import GatewaySettings

KEY_SETTING = "GATEWAY_SECRETS_KEY"
# `make run` keeps its generated key here (deploy/run.py), so claimsctl beside it finds the same one.
LOCAL_KEY_FILE = Path(".local/gateway-secrets.key")


class MissingSecretsKey(RuntimeError):
    """The gateway cannot start (nor `claimsctl hospitals` store a secret) without its key."""


class UnreadableSecret(Exception):
    """A sealed secret none of the configured keys opens (the key changed without keeping the old one)."""


class SecretBox:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise MissingSecretsKey(f"{KEY_SETTING} is empty")
        try:
            self._fernet = MultiFernet([Fernet(k.strip().encode()) for k in keys])
        except ValueError as exc:
            raise MissingSecretsKey(
                f"{KEY_SETTING} must be Fernet keys (`claimsctl hospitals new-key`): {exc}"
            ) from None

    def seal(self, secret: str) -> bytes:
        return self._fernet.encrypt(secret.encode())

    def open(self, sealed: bytes) -> str:
        try:
            return self._fernet.decrypt(sealed).decode()
        except InvalidToken:
            raise UnreadableSecret(f"a hospital secret cannot be opened with {KEY_SETTING}") from None


def new_key() -> str:
    return Fernet.generate_key().decode()


def secret_box(settings: GatewaySettings) -> SecretBox:
    """GATEWAY_SECRETS_KEY, else (only beside a running `make run`) the key it keeps in .local/."""
    from shared.runtime import STACK_ENV

    value = settings.secrets_key.get_secret_value()
    if not value and STACK_ENV.exists() and LOCAL_KEY_FILE.exists():
        value = LOCAL_KEY_FILE.read_text().strip()
    keys = [k.strip() for k in value.split(",") if k.strip()]
    if not keys:
        raise MissingSecretsKey(
            f"{KEY_SETTING} is not set: hospital secrets are sealed with it. Generate one with "
            "`claimsctl hospitals new-key` and give the gateway and claimsctl the same value."
        )
    return SecretBox(keys)
