"""The notifier's tables (asyncpg): subscriptions, deliveries, attempts, dead letters, DLQ arrivals.

Every function takes a connection on the notifier's schema (search_path) and runs in the
caller's transaction unless it says otherwise.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, cast

import asyncpg

from services.notifier.domain.model import (
    AttemptResult,
    Audience,
    Channel,
    ClaimedDelivery,
    Language,
    PlannedDelivery,
    Subscription,
    SubscriptionRequest,
)
from services.notifier.domain.notices import DeadLetterArrival
from shared.db import Conn, Pool


def wake_channel(schema: str) -> str:
    """The NOTIFY channel the dispatcher of `schema` listens on."""
    return f"notifier_{schema}"


# --------------------------------------------------------------------------- subscriptions

# Signing now: not past the end of its overlap ($1 is the instant of signing or listing).
_SIGNING = "w.subscription_id = s.id AND (w.signs_until IS NULL OR w.signs_until > $1)"
_SUBSCRIPTION_COLUMNS = f"""s.id, s.audience, s.kode_rs, s.channel, s.target, s.language, s.timezone, s.event_types,
    s.active, (SELECT count(*) FROM webhook_secrets w WHERE {_SIGNING}) AS signing_secrets,
    (SELECT min(w.signs_until) FROM webhook_secrets w WHERE {_SIGNING}) AS overlap_until"""


def _subscription(row: asyncpg.Record) -> Subscription:
    return Subscription(
        id=row["id"],
        audience=cast(Audience, row["audience"]),
        kode_rs=row["kode_rs"],
        channel=cast(Channel, row["channel"]),
        target=row["target"],
        language=cast(Language, row["language"]),
        timezone=row["timezone"],
        event_types=tuple(row["event_types"]),
        active=row["active"],
        signing_secrets=row["signing_secrets"],
        overlap_until=row["overlap_until"],
    )


async def add_subscription(conn: Conn, request: SubscriptionRequest, now: datetime, sealed: bytes | None) -> int:
    """Store a validated (and, for a webhook, checked) subscription with its sealed secret; returns its id.

    `request.secret` is never stored: only `sealed`, its Fernet token (adapters/sealing.py).
    """
    sub_id: int = await conn.fetchval(
        """INSERT INTO subscriptions (audience, kode_rs, channel, target, language, timezone, event_types, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id""",
        request.audience,
        request.kode_rs,
        request.channel,
        request.target,
        request.language,
        request.timezone,
        list(request.event_types),
        now,
    )
    if sealed is not None:
        await conn.execute(
            "INSERT INTO webhook_secrets (subscription_id, sealed, created_at) VALUES ($1, $2, $3)", sub_id, sealed, now
        )
    return sub_id


@dataclass(frozen=True)
class SecretChange:
    """What a rotation step did, or why it was refused (`refused` set, nothing changed)."""

    refused: str | None = None
    overlap_until: datetime | None = None
    retired: int = 0


async def add_secret(
    conn: Conn, subscription_id: int, sealed: bytes, overlap_until: datetime, now: datetime
) -> SecretChange:
    """Rotation, step 1: a new secret signs from now; the current one keeps signing until `overlap_until`."""
    sub = await conn.fetchrow("SELECT channel FROM subscriptions WHERE id = $1 AND active FOR UPDATE", subscription_id)
    if sub is None or sub["channel"] != "webhook":
        return SecretChange(refused=f"subscription: no active webhook subscription #{subscription_id}")
    if overlap_until <= now:
        return SecretChange(refused=f"overlap: its end {overlap_until.isoformat()} is not in the future")
    signing: int = await conn.fetchval(
        f"SELECT count(*) FROM webhook_secrets w, subscriptions s WHERE s.id = $2 AND {_SIGNING}", now, subscription_id
    )
    if signing >= 2:
        return SecretChange(
            refused=f"secret: #{subscription_id} is already signing with two secrets (a rotation is under way): "
            "retire the old one first (`claimsctl notify retire-secret`)"
        )
    await conn.execute(
        "UPDATE webhook_secrets SET signs_until = $2 WHERE subscription_id = $1 AND signs_until IS NULL",
        subscription_id,
        overlap_until,
    )
    await conn.execute(
        "INSERT INTO webhook_secrets (subscription_id, sealed, created_at) VALUES ($1, $2, $3)",
        subscription_id,
        sealed,
        now,
    )
    return SecretChange(overlap_until=overlap_until)


async def retire_old_secrets(conn: Conn, subscription_id: int, now: datetime) -> SecretChange:
    """Rotation, step 2 (or the overlap simply ends): every secret but the newest stops signing now."""
    found = await conn.fetchval("SELECT 1 FROM subscriptions WHERE id = $1 AND active FOR UPDATE", subscription_id)
    if found is None:
        return SecretChange(refused=f"subscription: no active webhook subscription #{subscription_id}")
    status: str = await conn.execute(
        """UPDATE webhook_secrets SET signs_until = $2
            WHERE subscription_id = $1 AND (signs_until IS NULL OR signs_until > $2)
              AND id <> (SELECT max(id) FROM webhook_secrets WHERE subscription_id = $1)""",
        subscription_id,
        now,
    )
    retired = int(status.split()[-1])
    if not retired:
        return SecretChange(refused=f"secret: #{subscription_id} signs with one secret only: nothing to retire")
    return SecretChange(retired=retired)


async def seal_clear_secrets(conn: Conn, seal: Callable[[str], bytes], now: datetime) -> int:
    """Seal secrets a notifier before migration 0002 stored in clear, and erase them; returns how many."""
    rows = await conn.fetch("SELECT id, secret FROM subscriptions WHERE secret IS NOT NULL FOR UPDATE")
    for r in rows:
        await conn.execute(
            "INSERT INTO webhook_secrets (subscription_id, sealed, created_at) VALUES ($1, $2, $3)",
            r["id"],
            seal(r["secret"]),
            now,
        )
        await conn.execute("UPDATE subscriptions SET secret = NULL WHERE id = $1", r["id"])
    return len(rows)


async def reseal_secrets(conn: Conn, reseal: Callable[[bytes], bytes]) -> int:
    """Re-seal every stored secret with the first NOTIFIER_SECRETS_KEY (after adding a new key)."""
    rows = await conn.fetch("SELECT id, sealed FROM webhook_secrets FOR UPDATE")
    for r in rows:
        await conn.execute("UPDATE webhook_secrets SET sealed = $2 WHERE id = $1", r["id"], reseal(r["sealed"]))
    return len(rows)


async def remove_subscription(conn: Conn, subscription_id: int, now: datetime) -> int | None:
    """Deactivate a subscription and cancel its pending deliveries; None if there is no active one."""
    found = await conn.fetchval(
        "UPDATE subscriptions SET active = false, removed_at = $2 WHERE id = $1 AND active RETURNING id",
        subscription_id,
        now,
    )
    if found is None:
        return None
    status: str = await conn.execute(
        "UPDATE deliveries SET status = 'cancelled' WHERE subscription_id = $1 AND status = 'pending'",
        subscription_id,
    )
    return int(status.split()[-1])


async def list_subscriptions(
    conn: Conn, *, kode_rs: str | None = None, include_inactive: bool = False, now: datetime | None = None
) -> list[Subscription]:
    """Subscriptions, optionally of one hospital, oldest first (secrets counted as signing at `now`)."""
    rows = await conn.fetch(
        f"""SELECT {_SUBSCRIPTION_COLUMNS} FROM subscriptions s
            WHERE ($2::text IS NULL OR s.kode_rs = $2) AND ($3 OR s.active) ORDER BY s.id""",
        now or datetime.now(UTC),
        kode_rs,
        include_inactive,
    )
    return [_subscription(r) for r in rows]


# --------------------------------------------------------------------------- planning (the consumer's unit of work)

_CANDIDATE_COLUMNS = """s.id, s.audience, s.kode_rs, s.channel, s.target, s.language, s.timezone, s.event_types,
    s.active, 0 AS signing_secrets, NULL::timestamptz AS overlap_until"""


class Subscriptions(Protocol):
    """The subscriptions planning reads (a fake in unit tests, PostgreSQL in the service)."""

    async def candidates(self, kode_rs: Iterable[str | None]) -> list[Subscription]: ...


class Deliveries(Protocol):
    """The deliveries planning writes."""

    def add(self, delivery: PlannedDelivery, now: datetime) -> None: ...


class SqlSubscriptions:
    """Active subscriptions that could hear about events of some hospitals, read once per unit of work.

    The operators' subscriptions and those of every hospital asked for are read in one query and kept
    for the unit of work (one batch, or one event when the kernel re-runs event by event), so a later
    run of the same batch reads only hospitals not seen yet, and most often nothing.
    """

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self._operators: list[Subscription] | None = None
        self._hospitals: dict[str, list[Subscription]] = {}

    async def candidates(self, kode_rs: Iterable[str | None]) -> list[Subscription]:
        """The operators' and these hospitals' active subscriptions, by id (routing decides who hears what)."""
        wanted = {k for k in kode_rs if k is not None}
        missing = sorted(wanted - self._hospitals.keys())
        if self._operators is None or missing:
            rows = await self.conn.fetch(
                f"""SELECT {_CANDIDATE_COLUMNS} FROM subscriptions s
                    WHERE s.active AND (($2 AND s.audience = 'operators') OR s.kode_rs = ANY($1::text[]))
                    ORDER BY s.id""",
                missing,
                self._operators is None,
            )
            found = [_subscription(r) for r in rows]
            if self._operators is None:
                self._operators = [s for s in found if s.audience == "operators"]
            for k in missing:
                self._hospitals[k] = [s for s in found if s.audience == "hospital" and s.kode_rs == k]
        chosen = [*self._operators, *(s for k in wanted for s in self._hospitals[k])]
        return sorted(chosen, key=lambda s: s.id)


class SqlDeliveries:
    """`deliveries` in PostgreSQL: every delivery the unit of work planned, in one multi-row insert."""

    def __init__(self, conn: Conn, schema: str) -> None:
        self.conn = conn
        self.schema = schema
        self.pending: list[tuple[PlannedDelivery, datetime]] = []

    def add(self, delivery: PlannedDelivery, now: datetime) -> None:
        """Plan `delivery`, due (and created) at `now`."""
        self.pending.append((delivery, now))

    async def flush(self) -> list[str]:
        """Insert what was planned (one per event and subscription: repeats are ignored); the new rows' event types.

        Wakes the dispatcher on commit when anything is new.
        """
        planned, self.pending = self.pending, []
        if not planned:
            return []
        rows = [r for r, _ in planned]
        inserted = await self.conn.fetch(
            """INSERT INTO deliveries (event_id, subscription_id, event_type, claim_id, kode_rs, channel, subject, text,
                                       body, next_attempt_at, created_at)
               SELECT e, s, t, c, k, ch, sj, tx, b, n, n
               FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                           $8::text[], $9::bytea[], $10::timestamptz[]) AS u(e, s, t, c, k, ch, sj, tx, b, n)
               ON CONFLICT (event_id, subscription_id) DO NOTHING RETURNING event_type""",
            [r.event_id for r in rows],
            [r.subscription_id for r in rows],
            [r.event_type for r in rows],
            [r.claim_id for r in rows],
            [r.kode_rs for r in rows],
            [r.channel for r in rows],
            [r.subject for r in rows],
            [r.text for r in rows],
            [r.body for r in rows],
            [now for _, now in planned],
        )
        if inserted:
            await self.conn.execute("SELECT pg_notify($1, '')", wake_channel(self.schema))
        return [r["event_type"] for r in inserted]


# --------------------------------------------------------------------------- DLQ arrivals


async def record_dlq_arrival(conn: Conn, arrival: DeadLetterArrival) -> bool:
    """Remember a dead-letter record; False when it was seen before (a redelivery)."""
    found = await conn.fetchval(
        """INSERT INTO dlq_arrivals (topic, record_partition, record_offset, record_ts, record_key, error, reason,
                                     consumer, received_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING RETURNING 1""",
        arrival.topic,
        arrival.partition,
        arrival.offset,
        arrival.timestamp_ms,
        arrival.key,
        arrival.headers.get("dlq.error"),
        arrival.headers.get("dlq.reason"),
        arrival.headers.get("dlq.consumer"),
        arrival.received_at,
    )
    return found is not None


# --------------------------------------------------------------------------- dispatching

_DUE = "((d.status = 'pending' AND d.next_attempt_at <= $1) OR (d.status = 'in_flight' AND d.lease_until <= $1))"


async def claim_due(
    pool: Pool, *, now: datetime, limit: int, per_subscription: int, lease_s: float, token: uuid.UUID
) -> list[ClaimedDelivery]:
    """Lease up to `limit` due deliveries (pending and due, or in flight with an expired lease).

    At most `per_subscription` are in flight to one subscription at a time, so one slow or
    dead receiver cannot take every slot. Rows another instance is claiming are skipped.
    """
    rows = await pool.fetch(
        f"""WITH busy AS (
                SELECT subscription_id, count(*) AS n FROM deliveries
                WHERE status = 'in_flight' AND lease_until > $1 GROUP BY subscription_id
            ), due AS (
                SELECT d.id, d.subscription_id, d.next_attempt_at,
                       row_number() OVER (PARTITION BY d.subscription_id ORDER BY d.next_attempt_at, d.id) AS rn
                FROM deliveries d WHERE {_DUE}
            ), pick AS (
                SELECT due.id FROM due LEFT JOIN busy USING (subscription_id)
                WHERE due.rn + coalesce(busy.n, 0) <= $3
                ORDER BY due.next_attempt_at, due.id LIMIT $2
            ), locked AS (
                SELECT d.id FROM deliveries d
                WHERE d.id IN (SELECT id FROM pick) AND {_DUE}
                FOR UPDATE SKIP LOCKED
            )
            UPDATE deliveries d
               SET status = 'in_flight', attempts = d.attempts + 1, lease_until = $1 + make_interval(secs => $4),
                   lease_token = $5
              FROM locked, subscriptions s
             WHERE d.id = locked.id AND s.id = d.subscription_id AND s.active
         RETURNING d.id, d.event_id, d.subscription_id, d.event_type, d.claim_id, d.kode_rs, d.channel, d.subject,
                   d.text, d.body, d.attempts, s.target,
                   array(SELECT w.sealed FROM webhook_secrets w WHERE {_SIGNING} ORDER BY w.id DESC) AS sealed""",
        now,
        limit,
        per_subscription,
        lease_s,
        token,
    )
    return [
        ClaimedDelivery(
            id=r["id"],
            event_id=r["event_id"],
            subscription_id=r["subscription_id"],
            event_type=r["event_type"],
            claim_id=r["claim_id"],
            kode_rs=r["kode_rs"],
            channel=cast(Channel, r["channel"]),
            target=r["target"],
            subject=r["subject"],
            text=r["text"],
            body=r["body"],
            attempt=r["attempts"],
            lease_token=token,
            sealed_secrets=tuple(r["sealed"]),
        )
        for r in rows
    ]


async def next_wakeup(pool: Pool) -> datetime | None:
    """The earliest instant a delivery becomes due (a retry, or a lease that expires)."""
    found: datetime | None = await pool.fetchval(
        """SELECT least(
               (SELECT d.next_attempt_at FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id AND s.active
                 WHERE d.status = 'pending' ORDER BY d.next_attempt_at LIMIT 1),
               (SELECT d.lease_until FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id AND s.active
                 WHERE d.status = 'in_flight' ORDER BY d.lease_until LIMIT 1))"""
    )
    return found


async def record_attempt(
    conn: Conn, delivery: ClaimedDelivery, started_at: datetime, latency_ms: int, result: AttemptResult
) -> None:
    """Log one attempt: when, how long, the status code and the outcome."""
    await conn.execute(
        """INSERT INTO delivery_attempts (delivery_id, attempt, started_at, latency_ms, status_code, outcome, error)
           VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (delivery_id, attempt) DO NOTHING""",
        delivery.id,
        delivery.attempt,
        started_at,
        latency_ms,
        result.status_code,
        result.outcome,
        result.error,
    )


async def mark_delivered(conn: Conn, delivery: ClaimedDelivery, now: datetime) -> bool:
    """Delivered: never sent again. False if the lease was lost meanwhile."""
    status: str = await conn.execute(
        """UPDATE deliveries SET status = 'delivered', delivered_at = $3, lease_until = NULL, last_error = NULL
           WHERE id = $1 AND lease_token = $2 AND status = 'in_flight'""",
        delivery.id,
        delivery.lease_token,
        now,
    )
    return status.endswith(" 1")


async def schedule_retry(conn: Conn, delivery: ClaimedDelivery, at: datetime, error: str | None) -> bool:
    """Back to pending, due at `at` (cancelled if its subscription was removed). False if the lease was lost."""
    status: str = await conn.execute(
        """UPDATE deliveries d
              SET status = CASE WHEN s.active THEN 'pending' ELSE 'cancelled' END,
                  next_attempt_at = $3, lease_until = NULL, lease_token = NULL, last_error = $4
             FROM subscriptions s
            WHERE d.id = $1 AND d.lease_token = $2 AND d.status = 'in_flight' AND s.id = d.subscription_id""",
        delivery.id,
        delivery.lease_token,
        at,
        error,
    )
    return status.endswith(" 1")


async def mark_dead(conn: Conn, delivery: ClaimedDelivery, now: datetime, reason: str) -> bool:
    """Given up: the delivery is dead and one dead-letter record is written. False if the lease was lost."""
    status: str = await conn.execute(
        """UPDATE deliveries SET status = 'dead', lease_until = NULL, last_error = $3
           WHERE id = $1 AND lease_token = $2 AND status = 'in_flight'""",
        delivery.id,
        delivery.lease_token,
        reason,
    )
    if not status.endswith(" 1"):
        return False
    await conn.execute(
        """INSERT INTO dead_letters (delivery_id, event_id, subscription_id, event_type, claim_id, attempts, reason,
                                     created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING""",
        delivery.id,
        delivery.event_id,
        delivery.subscription_id,
        delivery.event_type,
        delivery.claim_id,
        delivery.attempt,
        reason,
        now,
    )
    return True


async def release(pool: Pool, ids: list[int], token: uuid.UUID, now: datetime) -> None:
    """Hand back deliveries whose attempt was interrupted by a shutdown (the attempt does not count)."""
    if ids:
        await pool.execute(
            """UPDATE deliveries SET status = 'pending', next_attempt_at = $3, lease_until = NULL, lease_token = NULL,
                                     attempts = greatest(attempts - 1, 0)
               WHERE id = ANY($1::bigint[]) AND lease_token = $2 AND status = 'in_flight'""",
            ids,
            token,
            now,
        )


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class LoggedAttempt:
    attempt: int
    started_at: datetime
    latency_ms: int
    status_code: int | None
    outcome: str
    error: str | None


@dataclass(frozen=True)
class LoggedDelivery:
    id: int
    event_id: uuid.UUID
    event_type: str
    subscription_id: int
    audience: str
    kode_rs: str | None
    channel: str
    target: str
    status: str
    attempts: int
    created_at: datetime
    delivered_at: datetime | None
    last_error: str | None
    log: tuple[LoggedAttempt, ...]


async def delivery_log(conn: Conn, claim_id: str) -> list[LoggedDelivery]:
    """Every delivery about a claim and every attempt of each, oldest first."""
    rows = await conn.fetch(
        """SELECT d.id, d.event_id, d.event_type, d.subscription_id, s.audience, s.kode_rs, d.channel, s.target,
                  d.status, d.attempts, d.created_at, d.delivered_at, d.last_error
           FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id
           WHERE d.claim_id = $1 ORDER BY d.created_at, d.id""",
        claim_id,
    )
    attempts = await conn.fetch(
        """SELECT delivery_id, attempt, started_at, latency_ms, status_code, outcome, error FROM delivery_attempts
           WHERE delivery_id = ANY($1::bigint[]) ORDER BY delivery_id, attempt""",
        [r["id"] for r in rows],
    )
    by_delivery: dict[int, list[LoggedAttempt]] = {}
    for a in attempts:
        by_delivery.setdefault(a["delivery_id"], []).append(
            LoggedAttempt(a["attempt"], a["started_at"], a["latency_ms"], a["status_code"], a["outcome"], a["error"])
        )
    return [
        LoggedDelivery(
            id=r["id"],
            event_id=r["event_id"],
            event_type=r["event_type"],
            subscription_id=r["subscription_id"],
            audience=r["audience"],
            kode_rs=r["kode_rs"],
            channel=r["channel"],
            target=r["target"],
            status=r["status"],
            attempts=r["attempts"],
            created_at=r["created_at"],
            delivered_at=r["delivered_at"],
            last_error=r["last_error"],
            log=tuple(by_delivery.get(r["id"], ())),
        )
        for r in rows
    ]
