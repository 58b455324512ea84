"""Webhook secrets sealed at rest: Fernet (AES-128-CBC + HMAC-SHA256, `cryptography`) with NOTIFIER_SECRETS_KEY.

HMAC signing needs the secret itself, so it cannot be hashed: the notifier's tables hold
only Fernet tokens, and a dump of the schema without the key reveals no secret. The
setting may list several keys (comma-separated): the first seals, any of them opens, so
the key itself can be rotated (`claimsctl notify reseal` re-seals every secret with the
first key; then the old key can be dropped).
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from services.notifier.settings import NotifierSettings

KEY_SETTING = "NOTIFIER_SECRETS_KEY"


class MissingSecretsKey(RuntimeError):
    """The notifier cannot start (or `claimsctl notify` cannot store a secret) without its key."""


class UnreadableSecret(Exception):
    """A sealed secret that none of the configured keys opens (the key was changed or dropped)."""


class SecretBox:
    """Seals and opens webhook secrets with the configured key(s)."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise MissingSecretsKey(f"{KEY_SETTING} is empty")
        try:
            self._fernet = MultiFernet([Fernet(k.strip().encode()) for k in keys])
        except ValueError as exc:
            raise MissingSecretsKey(
                f"{KEY_SETTING} must be Fernet keys (32 url-safe base64 bytes each, e.g. from "
                f"`claimsctl notify new-key`): {exc}"
            ) from None

    def seal(self, secret: str) -> bytes:
        return self._fernet.encrypt(secret.encode())

    def open(self, sealed: bytes) -> str:
        try:
            return self._fernet.decrypt(sealed).decode()
        except InvalidToken:
            raise UnreadableSecret(
                f"a webhook secret cannot be opened with {KEY_SETTING} (was the key changed without keeping the "
                "old one in the list?)"
            ) from None

    def reseal(self, sealed: bytes) -> bytes:
        """The same secret sealed with the first key."""
        try:
            return self._fernet.rotate(sealed)
        except InvalidToken:
            raise UnreadableSecret(f"a webhook secret cannot be opened with {KEY_SETTING}") from None


def new_key() -> str:
    """A fresh key for NOTIFIER_SECRETS_KEY."""
    return Fernet.generate_key().decode()


def configured_keys(settings: NotifierSettings) -> list[str]:
    """NOTIFIER_SECRETS_KEY, else the running local stack's (`make run` generates one per stack).

    Outside the local stack a missing key is an error at start-up, never a generated key:
    a key nobody kept would make every stored secret unreadable after a restart.
    """
    value = settings.secrets_key.get_secret_value()
    if not value:
        value = _local_stack_key()
    keys = [k.strip() for k in value.split(",") if k.strip()]
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
