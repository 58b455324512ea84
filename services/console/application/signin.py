"""Signing in and out: the password against its argon2 hash, the lock-out, the server-side session.

A wrong password and an unknown operator id take the same path (a guard row per login name, the same
argon2 work), so the answer never says which operator ids have accounts.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from services.console.adapters.passwords import hash_password, needs_rehash, password_matches
from services.console.adapters.repository import SessionRow, SqlAccounts, SqlGuards, SqlSessions
from services.console.domain.accounts import Guard, Outcome, after_failure, outcome


class UnitOfWorkLike(Protocol):
    accounts: SqlAccounts
    guards: SqlGuards
    sessions: SqlSessions


class TokenHasher(Protocol):
    def __call__(self, token: str) -> bytes: ...


@dataclass(frozen=True)
class SignInPolicy:
    max_failures: int
    lockout: timedelta
    session_length: timedelta


@dataclass(frozen=True)
class SignInResult:
    outcome: Outcome
    guard: Guard
    token: str | None = None  # the cookie's value, for a signed-in operator only


def new_token() -> str:
    return secrets.token_urlsafe(32)


async def sign_in(
    uow: UnitOfWorkLike, login: str, password: str, language: str, now: datetime, policy: SignInPolicy,
    hash_of_token: TokenHasher,
) -> SignInResult:  # fmt: skip
    """Check the password (always, even when locked: the same work), then the guard decides."""
    login = login.strip().lower()[:64]
    guard = await uow.guards.lock(login)
    account = await uow.accounts.get(login)
    ok = password_matches(account.password_hash if account else None, password)
    result = outcome(guard, ok, now)
    if result == "failed":
        guard = after_failure(guard, now, policy.max_failures, policy.lockout)
        await uow.guards.put(login, guard)
        return SignInResult("locked" if guard.locked_at(now) else "failed", guard)
    if result == "locked" or account is None:
        return SignInResult("locked", guard)
    await uow.guards.put(login, Guard())
    if needs_rehash(account.password_hash):
        await uow.accounts.rehash(login, hash_password(password))
    token = new_token()
    row = SessionRow(login, secrets.token_urlsafe(32), language, now + policy.session_length)
    await uow.sessions.create(hash_of_token(token), row)
    return SignInResult("signed_in", Guard(), token)
