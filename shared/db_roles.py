"""Least privilege in PostgreSQL: one login role per service owning only its schema, and claimsctl's two roles.

`provision` is the admin step (`claimsctl db provision`, the compose and Kubernetes migrate job), run with
an admin DSN that may create roles. It is idempotent: run it on every roll-out. After it:

- `jkn_<service>` (LOGIN, NOSUPERUSER, NOCREATEDB, NOCREATEROLE, NOREPLICATION, NOBYPASSRLS) owns the
  service's schema and every object in it, may CONNECT to the database, and has no privilege on any other
  schema: its migrations at start-up create tables in its own schema, nowhere else.
- `jkn_claimsctl_ro` may USAGE every service schema and SELECT every table in it, present and future
  (default privileges for the owner): the read-only views of claimsctl (a claim's timeline, a payment report).
- `jkn_claimsctl` owns claimsctl's own audit schema `ops` (dead-letter redrives) and is a member of
  `jkn_claimsctl_ro`: operators' tools read the services' schemas and write only `ops`.
- `jkn_console` (the operator console, `READING_SERVICES`) is a member of `jkn_claimsctl_ro` too: its queues
  are read from the verifier's and the payments service's tables, as claimsctl reads them; it writes only
  its own schema (accounts, sessions, its outbox). Its operations page reads the services' `outbox` and the
  notifier's `deliveries`/`subscriptions` through that membership too, and records a DLQ redrive exactly as
  `claimsctl dlq redrive` does: USAGE on `ops`, SELECT and INSERT on `ops.dlq_redrives` and its id sequence
  (`OPERATIONS_TABLES`), nothing else there (`grant_operations`, after the audit migration made the table).
- PUBLIC loses every privilege on the database (CONNECT, TEMPORARY, CREATE) and CREATE on schema public:
  a role this step did not make cannot even connect, and nobody but the admin creates a schema.

Passwords come from DB_PASSWORD_<ROLE> (each the same secret the service's own DSN is built from); an empty
one leaves an existing role's password as it is, and makes a new role without one (it can log in only where
pg_hba trusts it, as on the local stack).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from shared.db import Conn, advisory_key, quote_ident

READER = "jkn_claimsctl_ro"
OPERATOR = "jkn_claimsctl"
AUDIT_SCHEMA = "ops"  # shared/dlq.py AUDIT_SCHEMA; repeated here so provisioning does not import the broker client
# Services that read other services' schemas (as claimsctl does): members of the read-only role.
READING_SERVICES = ("console",)
# What the console's operations page does in claimsctl's audit schema: read past redrives, record new ones.
OPERATIONS_TABLES = ("dlq_redrives",)
ROLE_ATTRIBUTES = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT"


@dataclass(frozen=True)
class SchemaRole:
    """A login role and the one schema it owns."""

    role: str
    schema: str
    password: str = ""
    reads_services: bool = False  # also a member of the read-only role (the console reads the queues)


@dataclass(frozen=True)
class RolePlan:
    """Every role provisioning makes: the services', claimsctl's operator role, and the read-only role."""

    services: Sequence[SchemaRole]
    operator: SchemaRole = SchemaRole(OPERATOR, AUDIT_SCHEMA)
    reader: str = READER
    reader_password: str = ""


def service_role(service: str) -> str:
    """The role a service logs in as (`jkn_grouper` ...)."""
    return f"jkn_{service}"


async def provision(admin: Conn, plan: RolePlan) -> list[str]:
    """Make the roles, schemas and grants of `plan` on the admin's connection; returns what was done, in order."""
    done: list[str] = []
    async with admin.transaction():
        await admin.execute("SELECT pg_advisory_xact_lock($1)", advisory_key("provision-roles"))
        superuser = bool(await admin.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"))
        owners = [*plan.services, plan.operator]
        for owner in owners:
            done.append(await _login_role(admin, owner.role, owner.password, superuser))
        done.append(await _login_role(admin, plan.reader, plan.reader_password, superuser))
        done.append(await _lock_database(admin, [o.role for o in owners] + [plan.reader]))
        for owner in owners:
            done.append(await _own_schema(admin, owner))
        for svc in plan.services:
            done.append(await _grant_reading(admin, svc, plan.reader))
        await admin.execute(f"GRANT {quote_ident(plan.reader)} TO {quote_ident(plan.operator.role)}")
        done.append(f"{plan.operator.role}: member of {plan.reader}")
        for role in reading_roles(plan):
            await admin.execute(f"GRANT {quote_ident(plan.reader)} TO {quote_ident(role)}")
            done.append(f"{role}: member of {plan.reader}")
        done.extend(await grant_operations(admin, plan))
    return done


def reading_roles(plan: RolePlan) -> list[str]:
    """The services' roles that read the other schemas and redrive dead letters from a page (the console's)."""
    readers_by_name = {service_role(name) for name in READING_SERVICES}
    return [s.role for s in plan.services if s.reads_services or s.role in readers_by_name]


async def grant_operations(conn: Conn, plan: RolePlan) -> list[str]:
    """USAGE on the audit schema and SELECT, INSERT on `OPERATIONS_TABLES` (and their id sequences) for the
    console. A table the audit migration has not made yet is skipped: `claimsctl db provision` calls this
    again after migrating, and every roll-out provisions again."""
    done = []
    schema = quote_ident(plan.operator.schema)
    for role in reading_roles(plan):
        await conn.execute(f"GRANT USAGE ON SCHEMA {schema} TO {quote_ident(role)}")
        granted = []
        for table in OPERATIONS_TABLES:
            name = f"{schema}.{quote_ident(table)}"
            if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", name):
                continue
            await conn.execute(f"GRANT SELECT, INSERT ON {name} TO {quote_ident(role)}")
            for seq in await conn.fetch(
                "SELECT s::text AS s FROM pg_get_serial_sequence($1, 'id') AS s WHERE s IS NOT NULL", name
            ):
                await conn.execute(f"GRANT USAGE ON SEQUENCE {seq['s']} TO {quote_ident(role)}")
            granted.append(table)
        done.append(f"{role}: may read and add to {plan.operator.schema}.{{{', '.join(granted)}}}" if granted
                    else f"{role}: USAGE on {plan.operator.schema} (its tables not migrated yet)")  # fmt: skip
    return done


async def _login_role(conn: Conn, role: str, password: str, admin_is_superuser: bool) -> str:
    """Create the role, or put an existing one back to exactly these attributes (never a superuser)."""
    exists = await conn.fetchval("SELECT true FROM pg_roles WHERE rolname = $1", role)
    verb = "ALTER" if exists else "CREATE"
    await conn.execute(f"{verb} ROLE {quote_ident(role)} {ROLE_ATTRIBUTES}")
    if password:
        # Utility statements take no bind parameters: the password goes in as a quoted literal.
        literal = await conn.fetchval("SELECT quote_literal($1)", password)
        await conn.execute(f"ALTER ROLE {quote_ident(role)} PASSWORD {literal}")
    if not admin_is_superuser:
        # A managed PostgreSQL's admin is no superuser: it must be a member to hand objects to the role
        # and to run migrations as it (shared/db.ensure_schema).
        await conn.execute(f"GRANT {quote_ident(role)} TO current_user")
    return f"{role}: {'updated' if exists else 'created'} ({ROLE_ATTRIBUTES}{', password set' if password else ''})"


async def _lock_database(conn: Conn, roles: Sequence[str]) -> str:
    """Only the provisioned roles may connect; nobody but the admin may create schemas or temporary tables."""
    database = quote_ident(str(await conn.fetchval("SELECT current_database()")))
    await conn.execute(f"REVOKE ALL ON DATABASE {database} FROM PUBLIC")
    await conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    for role in roles:
        await conn.execute(f"GRANT CONNECT ON DATABASE {database} TO {quote_ident(role)}")
    return f"database {database}: PUBLIC may not connect or create; CONNECT for {', '.join(roles)}"


async def _own_schema(conn: Conn, owner: SchemaRole) -> str:
    """The schema (made if missing) and everything already in it belong to the role; PUBLIC has nothing there."""
    schema, role = quote_ident(owner.schema), quote_ident(owner.role)
    await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {role}")
    await conn.execute(f"ALTER SCHEMA {schema} OWNER TO {role}")
    await conn.execute(f"REVOKE ALL ON SCHEMA {schema} FROM PUBLIC")
    moved = 0
    for statement in await _objects_to_hand_over(conn, owner):
        await conn.execute(statement)
        moved += 1
    return f"schema {owner.schema}: owned by {owner.role}" + (f" ({moved} object(s) handed over)" if moved else "")


async def _objects_to_hand_over(conn: Conn, owner: SchemaRole) -> list[str]:
    """ALTER ... OWNER statements for what an earlier admin-run migration left owned by someone else.

    Tables, views and free-standing sequences (a column's sequence follows its table), and functions.
    """
    rows = await conn.fetch(
        """SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                 ELSE 'TABLE' END AS kind,
                  format('%I.%I', n.nspname, c.relname) AS name
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
             AND c.relowner <> $2::regrole
             AND NOT (c.relkind = 'S' AND EXISTS (
                 SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))
           UNION ALL
           SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END, p.oid::regprocedure::text
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = $1 AND p.proowner <> $2::regrole""",
        owner.schema,
        owner.role,
    )
    return [f"ALTER {r['kind']} {r['name']} OWNER TO {quote_ident(owner.role)}" for r in rows]


async def _grant_reading(conn: Conn, owner: SchemaRole, reader: str) -> str:
    """SELECT on the schema's tables for the reader, now and for every table its owner creates later."""
    schema, role, ro = quote_ident(owner.schema), quote_ident(owner.role), quote_ident(reader)
    await conn.execute(f"GRANT USAGE ON SCHEMA {schema} TO {ro}")
    await conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {ro}")
    await conn.execute(f"ALTER DEFAULT PRIVILEGES FOR ROLE {role} IN SCHEMA {schema} GRANT SELECT ON TABLES TO {ro}")
    return f"schema {owner.schema}: {reader} may read every table (present and future)"


async def provision_dsn(admin_dsn: str, plan: RolePlan) -> list[str]:
    """`provision` on a connection of its own."""
    conn: asyncpg.Connection = await asyncpg.connect(admin_dsn)
    try:
        return await provision(conn, plan)
    finally:
        await conn.close()


async def grant_operations_dsn(admin_dsn: str, plan: RolePlan) -> list[str]:
    """`grant_operations` on a connection of its own (after the audit migration)."""
    conn: asyncpg.Connection = await asyncpg.connect(admin_dsn)
    try:
        return await grant_operations(conn, plan)
    finally:
        await conn.close()
