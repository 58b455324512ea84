"""Least privilege on the real PostgreSQL: a service's role reaches only its own schema.

Roles are per cluster, so each test provisions its own names (`jkn_grouper_<suffix>` ...) on the session's
server, exactly as `claimsctl db provision` does for the real ones.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

import asyncpg
import pytest

from deploy.local import Stack, _stop_process, start_embedded_postgres
from services.grouper.service import SPEC as GROUPER
from services.payments.service import SPEC as PAYMENTS
from services.payments.settings import get_payments_settings
from services.verifier.service import SPEC as VERIFIER
from shared import db
from shared.db_roles import RolePlan, SchemaRole, provision_dsn
from shared.events import ClaimVerified, ClaimVerifiedPayload
from shared.settings import DatabaseSettings
from tests.support.kafka import eventually
from tests.support.services import Lane, running

pytestmark = pytest.mark.integration

DENIED = asyncpg.InsufficientPrivilegeError


@dataclass(frozen=True)
class Provisioned:
    grouper: SchemaRole
    verifier: SchemaRole
    reader: str
    operator: SchemaRole


@pytest.fixture
async def roles(stack: Stack) -> Provisioned:
    """The grouper's and the verifier's schemas migrated, as provisioning and the migrate job leave them."""
    suffix = uuid.uuid4().hex[:8]
    grouper = SchemaRole(f"jkn_grouper_{suffix}", f"grouper_{suffix}", "grouper-pw")
    verifier = SchemaRole(f"jkn_verifier_{suffix}", f"verifier_{suffix}", "verifier-pw")
    operator = SchemaRole(f"jkn_claimsctl_{suffix}", f"ops_{suffix}")
    reader = f"jkn_claimsctl_ro_{suffix}"
    await provision_dsn(stack.database_url, RolePlan([grouper, verifier], operator=operator, reader=reader))
    # The migrate job: the admin applies the migrations, each as the schema's owner.
    for owner, spec in ((grouper, GROUPER), (verifier, VERIFIER)):
        assert spec.migrations is not None
        await db.migrate(stack.database_url, owner.schema, spec.migrations)
    return Provisioned(grouper, verifier, reader, operator)


@pytest.fixture
async def as_grouper(stack: Stack, roles: Provisioned) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(db.with_role(stack.database_url, roles.grouper.role, roles.grouper.password))
    yield conn
    await conn.close()


@pytest.fixture
async def as_reader(stack: Stack, roles: Provisioned) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(db.with_role(stack.database_url, roles.reader))
    yield conn
    await conn.close()


async def test_migrations_run_by_the_admin_leave_every_table_owned_by_the_service_role(
    stack: Stack, roles: Provisioned
) -> None:
    admin = await asyncpg.connect(stack.database_url)
    try:
        owners = {
            r["schemaname"]: {r["tableowner"]}
            for r in await admin.fetch(
                "SELECT schemaname, tableowner FROM pg_tables WHERE schemaname = ANY($1)",
                [roles.grouper.schema, roles.verifier.schema],
            )
        }
        tables = await admin.fetchval(
            "SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename IN ('groupings', 'outbox', 'inbox')",
            roles.grouper.schema,
        )
    finally:
        await admin.close()
    assert tables == 3
    assert owners == {roles.grouper.schema: {roles.grouper.role}, roles.verifier.schema: {roles.verifier.role}}


async def test_the_grouper_role_works_in_its_schema_only(as_grouper: asyncpg.Connection, roles: Provisioned) -> None:
    own, other = roles.grouper.schema, roles.verifier.schema
    # Its own schema: read, write, and create (its migrations at start-up need that).
    await as_grouper.execute(f"CREATE TABLE {own}.scratch (n int)")
    await as_grouper.execute(f"INSERT INTO {own}.scratch VALUES (1)")
    assert await as_grouper.fetchval(f"SELECT count(*) FROM {own}.scratch") == 1
    assert await as_grouper.fetchval(f"SELECT count(*) FROM {own}.outbox") == 0

    # The verifier's schema: no read, no write, no new table.
    with pytest.raises(DENIED, match=f"permission denied for schema {other}"):
        await as_grouper.fetchval(f"SELECT count(*) FROM {other}.claims")
    with pytest.raises(DENIED, match=f"permission denied for schema {other}"):
        await as_grouper.execute(f"INSERT INTO {other}.outbox (topic, key, value) VALUES ('x', 'k', 'v')")
    with pytest.raises(DENIED, match=f"permission denied for schema {other}"):
        await as_grouper.execute(f"CREATE TABLE {other}.planted (n int)")
    # Nor a schema of its own making, nor a table in public.
    with pytest.raises(DENIED, match="permission denied for database"):
        await as_grouper.execute("CREATE SCHEMA grouper_private")
    with pytest.raises(DENIED, match="permission denied for schema public"):
        await as_grouper.execute("CREATE TABLE public.planted (n int)")


async def test_a_service_role_is_no_superuser_and_cannot_make_roles_or_databases(
    as_grouper: asyncpg.Connection, roles: Provisioned
) -> None:
    row = await as_grouper.fetchrow(
        "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls FROM pg_roles "
        "WHERE rolname = current_user"
    )
    assert dict(row) == {  # type: ignore[arg-type]
        "rolsuper": False, "rolcreaterole": False, "rolcreatedb": False, "rolreplication": False,
        "rolbypassrls": False,
    }  # fmt: skip
    with pytest.raises(DENIED):
        await as_grouper.execute("CREATE ROLE intruder LOGIN")
    with pytest.raises(DENIED):
        await as_grouper.execute(f"SET ROLE {roles.verifier.role}")


async def test_the_read_only_role_reads_every_service_schema_and_changes_nothing(
    stack: Stack, as_grouper: asyncpg.Connection, as_reader: asyncpg.Connection, roles: Provisioned
) -> None:
    own, other = roles.grouper.schema, roles.verifier.schema
    await as_grouper.execute(f"INSERT INTO {own}.outbox (topic, key, value) VALUES ('claims.grouped', 'C-1', 'v')")
    assert await as_reader.fetchval(f"SELECT count(*) FROM {own}.outbox") == 1
    assert await as_reader.fetchval(f"SELECT count(*) FROM {other}.claims") == 0
    # A table the owner creates after provisioning is readable too (default privileges).
    await as_grouper.execute(f"CREATE TABLE {own}.later (n int)")
    await as_grouper.execute(f"INSERT INTO {own}.later VALUES (7)")
    assert await as_reader.fetchval(f"SELECT n FROM {own}.later") == 7

    for statement in (
        f"INSERT INTO {own}.later VALUES (8)",
        f"UPDATE {own}.later SET n = 9",
        f"DELETE FROM {own}.later",
        f"UPDATE {other}.claims SET state = 'verified'",
        f"CREATE TABLE {own}.planted (n int)",
    ):
        with pytest.raises(DENIED):
            await as_reader.execute(statement)
    assert await as_grouper.fetchval(f"SELECT n FROM {own}.later") == 7


async def test_the_operator_role_writes_its_audit_schema_and_only_reads_the_services(
    stack: Stack, as_grouper: asyncpg.Connection, roles: Provisioned
) -> None:
    ops = await asyncpg.connect(db.with_role(stack.database_url, roles.operator.role))
    try:
        await ops.execute(f"CREATE TABLE {roles.operator.schema}.redrives (n int)")
        await ops.execute(f"INSERT INTO {roles.operator.schema}.redrives VALUES (1)")
        assert await ops.fetchval(f"SELECT count(*) FROM {roles.grouper.schema}.outbox") == 0  # as the reader
        with pytest.raises(DENIED):
            await ops.execute(f"DELETE FROM {roles.grouper.schema}.outbox")
    finally:
        await ops.close()
    with pytest.raises(DENIED, match=f"permission denied for schema {roles.operator.schema}"):
        await as_grouper.fetchval(f"SELECT count(*) FROM {roles.operator.schema}.redrives")


async def test_the_console_role_reads_the_queues_and_writes_only_its_own_schema(stack: Stack) -> None:
    """The console reads the verifier's and payments' tables as claimsctl does; every change is a command."""
    suffix = uuid.uuid4().hex[:8]
    verifier = SchemaRole(f"jkn_verifier_{suffix}", f"verifier_{suffix}")
    console = SchemaRole(f"jkn_console_{suffix}", f"console_{suffix}", reads_services=True)
    reader = f"jkn_claimsctl_ro_{suffix}"
    plan = RolePlan([verifier, console], operator=SchemaRole(f"jkn_claimsctl_{suffix}", f"ops_{suffix}"), reader=reader)
    done = await provision_dsn(stack.database_url, plan)
    assert f"{console.role}: member of {reader}" in done
    assert f"{verifier.role}: member of {reader}" not in done
    assert VERIFIER.migrations is not None
    await db.migrate(stack.database_url, verifier.schema, VERIFIER.migrations)
    conn = await asyncpg.connect(db.with_role(stack.database_url, console.role))
    try:
        await conn.execute(f"CREATE TABLE {console.schema}.accounts (operator_id text)")
        await conn.execute(f"INSERT INTO {console.schema}.accounts VALUES ('verif.sari')")
        assert await conn.fetchval(f"SELECT count(*) FROM {verifier.schema}.claims") == 0
        with pytest.raises(DENIED):
            await conn.execute(f"UPDATE {verifier.schema}.claims SET state = 'verified'")
    finally:
        await conn.close()


async def test_a_role_the_provisioning_did_not_make_cannot_connect(stack: Stack, roles: Provisioned) -> None:
    admin = await asyncpg.connect(stack.database_url)
    stranger = f"stranger_{uuid.uuid4().hex[:8]}"
    try:
        await admin.execute(f"CREATE ROLE {stranger} LOGIN")
    finally:
        await admin.close()
    with pytest.raises(DENIED, match="permission denied for database"):
        await asyncpg.connect(db.with_role(stack.database_url, stranger))


async def test_provisioning_again_changes_nothing_and_puts_a_tampered_role_back(
    stack: Stack, roles: Provisioned, as_grouper: asyncpg.Connection
) -> None:
    admin = await asyncpg.connect(stack.database_url)
    try:
        await admin.execute(f"ALTER ROLE {roles.grouper.role} CREATEDB CREATEROLE")
    finally:
        await admin.close()
    plan = RolePlan([roles.grouper, roles.verifier], operator=roles.operator, reader=roles.reader)
    await provision_dsn(stack.database_url, plan)
    row = await as_grouper.fetchrow("SELECT rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user")
    assert (row["rolcreatedb"], row["rolcreaterole"]) == (False, False)  # type: ignore[index]
    assert await as_grouper.fetchval(f"SELECT count(*) FROM {roles.grouper.schema}.groupings") == 0


# --------------------------------------------------------------------------- a service on its own role


@pytest.fixture
def no_schedule(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("PAYMENTS_SCHEDULE_ENABLED", "false")  # no scheduled run while the test watches
    get_payments_settings.cache_clear()
    yield
    get_payments_settings.cache_clear()


def claim_verified() -> ClaimVerified:
    return ClaimVerified(
        occurred_at=datetime.now(UTC),
        claim_id="ROLE-TEST-0001",
        correlation_id=uuid.uuid4(),
        producer="verifier",
        payload=ClaimVerifiedPayload(
            revision=0, nomor_sep="0301R0010326V000001", kode_rs="0301R001", verification_seq=0,
            verified_on=date(2026, 2, 23), claimed_amount=7_654_321, approved_amount=7_500_000,
        ),
    )  # fmt: skip


async def test_payments_on_its_own_role_migrates_at_start_up_and_turns_a_verified_claim_into_a_payable(
    stack: Stack, lane: Lane, no_schedule: None
) -> None:
    spec = lane.isolate(PAYMENTS)
    owner = SchemaRole(f"jkn_payments_{lane.suffix}", spec.schema, "payments-pw")
    others = SchemaRole(f"jkn_verifier_{lane.suffix}", f"verifier_{lane.suffix}")
    reader = f"jkn_claimsctl_ro_{lane.suffix}"
    plan = RolePlan([owner, others], operator=SchemaRole(f"jkn_claimsctl_{lane.suffix}", f"ops_{lane.suffix}"),
                    reader=reader)  # fmt: skip
    await provision_dsn(stack.database_url, plan)  # roles and an empty schema: no migration has run yet
    settings = lane.settings()
    own_dsn = db.with_role(stack.database_url, owner.role, owner.password)
    settings = settings.model_copy(update={"database": DatabaseSettings(database_url=own_dsn)})

    read = await asyncpg.connect(db.with_role(stack.database_url, reader))
    try:
        async with running(spec, settings) as runtime:
            assert runtime.dsn.startswith(f"postgresql://{owner.role}:")
            await lane.publish([claim_verified()])

            async def payable() -> bool:
                return bool(await read.fetchval(f"SELECT count(*) FROM {spec.schema}.payables") == 1)

            await eventually(payable)
            await eventually(lambda: lane.consumed(spec))
        row = await read.fetchrow(f"SELECT claim_id, kode_rs, amount FROM {spec.schema}.payables")
        owners = {
            r["tableowner"] for r in await read.fetch("SELECT tableowner FROM pg_tables WHERE schemaname = $1",
                                                      spec.schema)
        }  # fmt: skip
    finally:
        await read.close()
    assert dict(row) == {"claim_id": "ROLE-TEST-0001", "kode_rs": "0301R001", "amount": 7_500_000}  # type: ignore[arg-type]
    assert owners == {owner.role}  # the service's own start-up migrations made every table


# --------------------------------------------------------------------------- TLS to PostgreSQL
# The embedded PostgreSQL is built without SSL ("SSL is not supported by this build"), so a handshake that
# succeeds cannot be shown here; what can: a mode that demands TLS never falls back to clear text.


async def test_a_mode_that_demands_tls_refuses_a_server_without_it(stack: Stack) -> None:
    settings = DatabaseSettings(db_sslmode="require")
    with pytest.raises(ConnectionError, match="rejected SSL upgrade"):
        await asyncpg.connect(db.with_tls(stack.database_url, settings))
    # The default, prefer, is libpq's: it connects to this server in clear text.
    conn = await asyncpg.connect(db.with_tls(stack.database_url, DatabaseSettings()))
    try:
        assert await conn.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") is False
    finally:
        await conn.close()


# --------------------------------------------------------------------------- the migrate job's command


@pytest.fixture
def fresh_postgres() -> Iterator[str]:
    """A PostgreSQL of its own: the real role names are per cluster, and the session's server is shared."""
    dsn, proc, data = start_embedded_postgres()
    try:
        yield dsn
    finally:
        _stop_process(proc, signal.SIGINT)
        shutil.rmtree(data.parent, ignore_errors=True)


async def _owners_and_passwords(dsn: str) -> tuple[dict[str, set[str]], dict[str, bool]]:
    conn = await asyncpg.connect(dsn)
    try:
        tables = await conn.fetch(
            "SELECT schemaname, tableowner FROM pg_tables WHERE schemaname IN "
            "('grouper', 'verifier', 'payments', 'notifier', 'gateway', 'console', 'ops')"
        )
        passwords = await conn.fetch(
            "SELECT rolname, rolpassword IS NOT NULL AS has FROM pg_authid WHERE rolname ~ '^jkn_'"
        )
    finally:
        await conn.close()
    owners: dict[str, set[str]] = {}
    for r in tables:
        owners.setdefault(r["schemaname"], set()).add(r["tableowner"])
    return owners, {r["rolname"]: r["has"] for r in passwords}


def test_claimsctl_db_provision_makes_every_role_then_migrates_each_schema_as_its_owner(fresh_postgres: str) -> None:
    env = {**os.environ, "DATABASE_URL": fresh_postgres, "DB_PASSWORD_PAYMENTS": "payments-pw"}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)  # provisioning needs no broker
    runs = [
        subprocess.run([sys.executable, "-m", "shared.cli", "db", "provision"], env=env, capture_output=True,
                       text=True, timeout=180)
        for _ in range(2)
    ]  # fmt: skip
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr + runs[1].stderr
    assert "payments: 0 migration(s) applied (as jkn_payments)" in runs[1].stdout  # a second roll-out: nothing new

    owners, has_password = asyncio.run(_owners_and_passwords(fresh_postgres))
    assert owners == {
        "grouper": {"jkn_grouper"}, "verifier": {"jkn_verifier"}, "payments": {"jkn_payments"},
        "notifier": {"jkn_notifier"}, "gateway": {"jkn_gateway"}, "console": {"jkn_console"},
        "ops": {"jkn_claimsctl"},
    }  # fmt: skip
    assert has_password == {
        "jkn_grouper": False, "jkn_verifier": False, "jkn_payments": True, "jkn_notifier": False,
        "jkn_gateway": False, "jkn_console": False, "jkn_claimsctl": False, "jkn_claimsctl_ro": False,
    }  # fmt: skip
