"""Signing in (application layer, in-memory repositories): an unknown operator id and a wrong password
answer alike and lock alike; a locked account refuses the right password; a session is made only on success."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.console.adapters.passwords import hash_password
from services.console.adapters.repository import Account, SessionRow
from services.console.application.signin import SignInPolicy, sign_in
from services.console.domain.accounts import Guard
from services.console.entrypoints.session import token_hash

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
POLICY = SignInPolicy(3, timedelta(minutes=15), timedelta(hours=8))


class FakeAccounts:
    def __init__(self, *accounts: Account) -> None:
        self.rows = {a.operator_id: a for a in accounts}

    async def get(self, operator_id: str) -> Account | None:
        return self.rows.get(operator_id)

    async def rehash(self, operator_id: str, password_hash: str) -> None:
        self.rows[operator_id] = Account(operator_id, password_hash, b"", "")


class FakeGuards:
    def __init__(self) -> None:
        self.rows: dict[str, Guard] = {}

    async def lock(self, login: str) -> Guard:
        return self.rows.setdefault(login, Guard())

    async def put(self, login: str, guard: Guard) -> None:
        self.rows[login] = guard


class FakeSessions:
    def __init__(self) -> None:
        self.rows: dict[bytes, SessionRow] = {}

    async def create(self, hashed: bytes, row: SessionRow) -> None:
        self.rows[hashed] = row


class FakeUnitOfWork:
    def __init__(self) -> None:
        self.accounts: Any = FakeAccounts(Account("verif.sari", hash_password("kata-sandi-benar"), b"", "k"))
        self.guards: Any = FakeGuards()
        self.sessions: Any = FakeSessions()


async def attempt(uow: FakeUnitOfWork, login: str, password: str, at: datetime = NOW) -> str:
    return (await sign_in(uow, login, password, "id", at, POLICY, token_hash)).outcome


async def test_the_right_password_makes_a_session_for_the_operator() -> None:
    uow = FakeUnitOfWork()
    result = await sign_in(uow, " Verif.Sari ", "kata-sandi-benar", "en", NOW, POLICY, token_hash)
    assert result.outcome == "signed_in" and result.token is not None
    row = uow.sessions.rows[token_hash(result.token)]
    assert (row.operator_id, row.language, row.expires_at) == ("verif.sari", "en", NOW + timedelta(hours=8))
    assert len(row.csrf_token) >= 32


async def test_an_unknown_operator_and_a_wrong_password_look_the_same_and_lock_the_same() -> None:
    uow = FakeUnitOfWork()
    known = [await attempt(uow, "verif.sari", f"salah-{i}") for i in range(3)]
    unknown = [await attempt(uow, "verif.nobody", f"salah-{i}") for i in range(3)]
    assert known == unknown == ["failed", "failed", "locked"]


async def test_a_locked_account_refuses_the_right_password_until_the_lock_runs_out() -> None:
    uow = FakeUnitOfWork()
    for i in range(3):
        await attempt(uow, "verif.sari", f"salah-{i}")
    assert await attempt(uow, "verif.sari", "kata-sandi-benar", NOW + timedelta(minutes=14)) == "locked"
    assert uow.sessions.rows == {}
    assert await attempt(uow, "verif.sari", "kata-sandi-benar", NOW + timedelta(minutes=15)) == "signed_in"
    assert uow.guards.rows["verif.sari"] == Guard()  # the count starts again from nothing
