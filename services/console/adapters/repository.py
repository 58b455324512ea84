"""The console's own tables: accounts, sign-in guards, sessions and the actions operators issued."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.console.domain.accounts import Guard
from shared.db import Conn


@dataclass(frozen=True)
class Account:
    operator_id: str
    password_hash: str
    sealed_key: bytes
    key_id: str


@dataclass(frozen=True)
class SessionRow:
    operator_id: str
    csrf_token: str
    language: str
    expires_at: datetime


@dataclass(frozen=True)
class Action:
    id: int
    event_id: uuid.UUID
    operator_id: str
    kind: str
    subject: str
    command_type: str
    detail: dict[str, Any]
    issued_at: datetime


class SqlAccounts:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def get(self, operator_id: str) -> Account | None:
        row = await self.conn.fetchrow(
            "SELECT operator_id, password_hash, sealed_key, key_id FROM accounts WHERE operator_id = $1", operator_id
        )
        return None if row is None else Account(**dict(row))

    async def put(self, account: Account) -> None:
        await self.conn.execute(
            """INSERT INTO accounts (operator_id, password_hash, sealed_key, key_id) VALUES ($1, $2, $3, $4)
               ON CONFLICT (operator_id) DO UPDATE SET password_hash = EXCLUDED.password_hash,
                   sealed_key = EXCLUDED.sealed_key, key_id = EXCLUDED.key_id, updated_at = now()""",
            account.operator_id, account.password_hash, account.sealed_key, account.key_id,
        )  # fmt: skip

    async def rehash(self, operator_id: str, password_hash: str) -> None:
        await self.conn.execute(
            "UPDATE accounts SET password_hash = $2, updated_at = now() WHERE operator_id = $1",
            operator_id, password_hash,
        )  # fmt: skip

    async def listing(self) -> list[dict[str, Any]]:
        rows = await self.conn.fetch(
            """SELECT a.operator_id, a.key_id, a.created_at, a.updated_at, g.failed, g.locked_until
               FROM accounts a LEFT JOIN sign_in_guards g ON g.login = a.operator_id ORDER BY a.operator_id"""
        )
        return [dict(r) for r in rows]


class SqlGuards:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def lock(self, login: str) -> Guard:
        """The name's guard, its row locked for this transaction (two sign-ins at once count twice)."""
        await self.conn.execute("INSERT INTO sign_in_guards (login) VALUES ($1) ON CONFLICT DO NOTHING", login)
        row = await self.conn.fetchrow(
            "SELECT failed, locked_until FROM sign_in_guards WHERE login = $1 FOR UPDATE", login
        )
        assert row is not None
        return Guard(row["failed"], row["locked_until"])

    async def put(self, login: str, guard: Guard) -> None:
        await self.conn.execute(
            "UPDATE sign_in_guards SET failed = $2, locked_until = $3, updated_at = now() WHERE login = $1",
            login, guard.failed, guard.locked_until,
        )  # fmt: skip

    async def clear(self, login: str) -> bool:
        return str(await self.conn.execute("DELETE FROM sign_in_guards WHERE login = $1", login)) != "DELETE 0"


class SqlSessions:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def create(self, token_hash: bytes, row: SessionRow) -> None:
        await self.conn.execute(
            """INSERT INTO sessions (token_hash, operator_id, csrf_token, language, expires_at)
               VALUES ($1, $2, $3, $4, $5)""",
            token_hash, row.operator_id, row.csrf_token, row.language, row.expires_at,
        )  # fmt: skip

    async def get(self, token_hash: bytes, now: datetime) -> SessionRow | None:
        row = await self.conn.fetchrow(
            """SELECT operator_id, csrf_token, language, expires_at FROM sessions
               WHERE token_hash = $1 AND expires_at > $2""",
            token_hash, now,
        )  # fmt: skip
        return None if row is None else SessionRow(**dict(row))

    async def set_language(self, token_hash: bytes, language: str) -> None:
        await self.conn.execute("UPDATE sessions SET language = $2 WHERE token_hash = $1", token_hash, language)

    async def delete(self, token_hash: bytes) -> None:
        await self.conn.execute("DELETE FROM sessions WHERE token_hash = $1", token_hash)

    async def purge(self, now: datetime) -> int:
        result = str(await self.conn.execute("DELETE FROM sessions WHERE expires_at <= $1", now))
        return int(result.split()[-1])


class SqlActions:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def record(
        self, event_id: uuid.UUID, operator_id: str, kind: str, subject: str, command_type: str, detail: dict[str, Any]
    ) -> int:
        value = await self.conn.fetchval(
            """INSERT INTO actions (event_id, operator_id, kind, subject, command_type, detail)
               VALUES ($1, $2, $3, $4, $5, $6::jsonb) RETURNING id""",
            event_id, operator_id, kind, subject, command_type, json.dumps(detail, default=str),
        )  # fmt: skip
        return int(value)

    async def get(self, action_id: int) -> Action | None:
        row = await self.conn.fetchrow("SELECT * FROM actions WHERE id = $1", action_id)
        if row is None:
            return None
        data = dict(row)
        data["detail"] = json.loads(data["detail"]) if isinstance(data["detail"], str) else data["detail"]
        return Action(**data)
