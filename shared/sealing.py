"""Secrets sealed at rest with Fernet (`cryptography`): AES-128-CBC + HMAC-SHA256.

HMAC signing (webhooks, hospitals' VClaim-style signatures) needs the secret itself, so it cannot be
hashed: a service's tables hold only Fernet tokens, and a dump of its schema without the key reveals no
secret. The key setting may list several keys (comma-separated): the first seals, any of them opens, so
the key itself can be rotated. Each service names its own setting by subclassing `SecretBox`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class MissingSecretsKey(RuntimeError):
    """A service cannot start (nor its CLI store a secret) without its key."""


class UnreadableSecret(Exception):
    """A sealed secret that none of the configured keys opens (the key was changed or dropped)."""


class SecretBox:
    """Seals and opens secrets with the configured key(s)."""

    key_setting: ClassVar[str] = "SECRETS_KEY"
    secret_kind: ClassVar[str] = "secret"  # what the messages call it: a webhook secret, a hospital secret
    new_key_command: ClassVar[str] = "claimsctl … new-key"

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise MissingSecretsKey(f"{self.key_setting} is empty")
        try:
            self._fernet = MultiFernet([Fernet(k.strip().encode()) for k in keys])
        except ValueError as exc:
            raise MissingSecretsKey(
                f"{self.key_setting} must be Fernet keys (32 url-safe base64 bytes each, e.g. from "
                f"`{self.new_key_command}`): {exc}"
            ) from None

    def seal(self, secret: str) -> bytes:
        return self._fernet.encrypt(secret.encode())

    def open(self, sealed: bytes) -> str:
        try:
            return self._fernet.decrypt(sealed).decode()
        except InvalidToken:
            raise self._unreadable() from None

    def reseal(self, sealed: bytes) -> bytes:
        """The same secret sealed with the first key."""
        try:
            return self._fernet.rotate(sealed)
        except InvalidToken:
            raise self._unreadable() from None

    def _unreadable(self) -> UnreadableSecret:
        return UnreadableSecret(
            f"a {self.secret_kind} cannot be opened with {self.key_setting} (was the key changed without keeping "
            "the old one in the list?)"
        )


def new_key() -> str:
    """A fresh Fernet key."""
    return Fernet.generate_key().decode()


def keys_of(value: str) -> list[str]:
    """The keys of a comma-separated key setting."""
    return [k.strip() for k in value.split(",") if k.strip()]
