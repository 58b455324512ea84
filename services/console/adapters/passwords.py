"""Password hashes (argon2id, argon2-cffi's defaults) and the operators' sealed signing keys."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.operators import OperatorSigner

_HASHER = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified against when the login names no account, so an unknown operator id costs the same time
    (made on first use: hashing at import would slow every claimsctl start-up)."""
    return _HASHER.hash("no account has this password")


MIN_PASSWORD_LENGTH = 12


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def password_matches(stored_hash: str | None, password: str) -> bool:
    """Whether `password` is the one hashed; with no hash (no such account) the same work is done, False."""
    try:
        return _HASHER.verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _HASHER.check_needs_rehash(stored_hash)


def signer_from_pem(operator_id: str, pem: bytes) -> OperatorSigner:
    """The operator's signer from a PEM (PKCS#8) private key; ValueError when it is not Ed25519."""
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("not an Ed25519 private key")
    return OperatorSigner(operator_id, key)
