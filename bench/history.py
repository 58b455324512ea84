"""The scale phase's history: N claims already decided and paid, bulk-loaded with COPY.

Every row is a clone of what the services themselves wrote for one claim of the bench's own throughput
run (its verifier claim, history lines, grouping, payable, payment, ledger entries, payment run, member
and inbox rows), so the history has whatever shape today's code writes. Each clone gets its own claim
id, SEP, hospital, card, payment id and event ids, and its dates moved 45-119 days back (old enough
for no readmission or overlap rule to see a fresh claim's stay, young enough to stay in the inbox,
which keeps 120 days). The same template value becomes the same new value in every table of one
clone: its grouped event id is the same in the verifier's claim, its history, the grouper's row and
the verifier's inbox; its payable's id in the payment and the ledger.

History cards repeat (three claims per member) and are the bench's own cards first, so a fresh claim
of the measured run finds its member's earlier claims, as it would in production.

Rows are generated one at a time and sent in COPY chunks of `CHUNK`: the bench never holds the history.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

import asyncpg

from services.simulator.scenario import hospital_code

CHUNK = 50_000  # rows per COPY
DAYS_BACK = 45  # the youngest history claim was decided this many days before the template claim
DAYS = 75  # ... and the oldest DAYS_BACK + DAYS - 1 days before (inside the inbox's 120 days)
CLAIMS_PER_CARD = 3
CLAIM_TOPICS = ("claims.submitted", "claims.grouped", "claims.verified", "claims.paid")
MEMBER_TOPIC = "participants.changed"
SCHEMAS = ("grouper", "verifier", "payments", "notifier")  # each has its own inbox

_MASK = (1 << 128) - 1
_STEP = 0x9E3779B97F4A7C15F39CC0605CEDC835  # odd: n -> u + n * STEP is one-to-one
_MIX = 0xBF58476D1CE4E5B94D2E2E1D5A8F9C3B  # odd: multiplying by it is a bijection that scatters the keys


def remap_uuid(template: int, n: int) -> str:
    """Clone n's id for a template id (as an int): distinct per (template, n), the same for one (template, n)
    in every table, scattered over the key space like uuid4 (so the indexes grow as they do in production).
    Hex text: asyncpg encodes it as a uuid without building a UUID object."""
    return f"{((template + (n + 1) * _STEP) * _MIX) & _MASK:032x}"


def number_format(text: str) -> str:
    """`PAY-000000037` -> `PAY-{:09d}`: the template's prefix and width, for other numbers."""
    m = re.fullmatch(r"(.*?)(\d+)", text)
    if m is None:
        return _escape(text) + "-{}"
    return f"{_escape(m.group(1))}{{:0{len(m.group(2))}d}}"


def _escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


class Replacer:
    """Turns a template text into a format string whose fields are the template values it holds (claim id,
    SEP, dates...), so a clone's text is one `format_map` of the clone's values: all swapped at once."""

    def __init__(self, needles: Mapping[str, str]) -> None:  # field name -> template value
        self.fields: dict[str, str] = {}
        for name, value in needles.items():
            if value:
                self.fields.setdefault(value, name)
        ordered = sorted(self.fields, key=len, reverse=True)  # the SEP before the kode_rs inside it
        self.pattern = re.compile("|".join(re.escape(v) for v in ordered)) if ordered else None

    def compile(self, text: str) -> str | None:
        """The format string, or None when the text holds no template value."""
        if self.pattern is None or self.pattern.search(text) is None:
            return None
        out, pos = [], 0
        for m in self.pattern.finditer(text):
            out += [_escape(text[pos : m.start()]), "{" + self.fields[m.group(0)] + "}"]
            pos = m.end()
        out.append(_escape(text[pos:]))
        return "".join(out)


class Clone:
    """One template row -> clone rows: uuids remapped, dates shifted, template values in texts replaced."""

    def __init__(self, row: Mapping[str, Any], replacer: Replacer, skip: Sequence[str] = ()) -> None:
        self.columns = [c for c in row if c not in skip]  # skipped: filled by their default (bigserial)
        self.values = [row[c] for c in self.columns]
        self.index = {c: i for i, c in enumerate(self.columns)}
        self.uuids = [(i, v.int) for i, v in enumerate(self.values) if isinstance(v, uuid.UUID)]
        self.dates = [i for i, v in enumerate(self.values) if isinstance(v, date)]  # datetime is a date
        compiled = [(i, replacer.compile(v)) for i, v in enumerate(self.values) if isinstance(v, str)]
        self.texts = [(i, fmt) for i, fmt in compiled if fmt is not None]

    def make(self, n: int, shift: timedelta, subs: Mapping[str, str], **changes: Any) -> tuple[Any, ...]:
        """Clone n, `shift` back in time, `subs` the values of the replacer's fields."""
        values = list(self.values)
        for i, template in self.uuids:
            values[i] = remap_uuid(template, n)
        for i in self.dates:
            values[i] = values[i] + shift
        for i, fmt in self.texts:
            values[i] = fmt.format_map(subs)
        for name, value in changes.items():
            values[self.index[name]] = value
        return tuple(values)


@dataclass
class Templates:
    """The rows the services wrote for one paid claim (captured from the database after the empty run)."""

    claim: dict[str, Any]
    history: list[dict[str, Any]]
    grouping: dict[str, Any]
    payable: dict[str, Any]
    payment: dict[str, Any]
    ledger: list[dict[str, Any]]
    run: dict[str, Any]
    participant: dict[str, Any]
    # schema -> that schema's inbox rows for this claim (one per claim topic) and for its member
    claim_inbox: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    member_inbox: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


async def capture(conn: asyncpg.Connection, claim_id: str) -> Templates:
    """What the services stored for `claim_id` (a claim verified and paid in this run)."""

    async def one(query: str, *args: Any) -> dict[str, Any]:
        row = await conn.fetchrow(query, *args)
        if row is None:
            raise LookupError(f"no template row for {claim_id}: {query}")
        return dict(row)

    async def many(query: str, *args: Any) -> list[dict[str, Any]]:
        return [dict(r) for r in await conn.fetch(query, *args)]

    claim = await one("SELECT * FROM verifier.claims WHERE claim_id = $1", claim_id)
    history = await many("SELECT * FROM verifier.claim_history WHERE claim_id = $1 ORDER BY id", claim_id)
    grouping = await one("SELECT * FROM grouper.groupings WHERE claim_id = $1 ORDER BY revision LIMIT 1", claim_id)
    payable = await one(
        "SELECT * FROM payments.payables WHERE claim_id = $1 ORDER BY verification_seq LIMIT 1", claim_id
    )
    payment = await one("SELECT * FROM payments.payments WHERE payable_id = $1", payable["id"])
    ledger = await many("SELECT * FROM payments.ledger_entries WHERE payable_id = $1 ORDER BY id", payable["id"])
    run = await one("SELECT * FROM payments.payment_runs WHERE run_id = $1", payment["run_id"])
    participant = await one(
        "SELECT * FROM verifier.participants WHERE nomor_kartu = $1 ORDER BY seq LIMIT 1", claim["nomor_kartu"]
    )
    t = Templates(claim, history, grouping, payable, payment, ledger, run, participant)
    known = [v for row in (claim, *history, grouping, payable) for v in row.values() if isinstance(v, uuid.UUID)]
    for schema in SCHEMAS:
        if await conn.fetchval("SELECT to_regclass($1)", f"{schema}.inbox") is None:
            continue
        # This claim's own inbox rows where its event ids are stored elsewhere too (grouped, verified) ...
        rows = await many(f"SELECT * FROM {schema}.inbox WHERE event_id = ANY($1::uuid[])", known)
        covered = {(r["consumer"], r["topic"]) for r in rows}
        # ... and one row for each other (consumer, claim topic) of the schema's inbox (submitted, paid).
        others = await many(
            f"SELECT DISTINCT ON (consumer, topic) * FROM {schema}.inbox WHERE topic = ANY($1::text[])",
            list(CLAIM_TOPICS),
        )
        rows += [
            {**r, "received_at": claim["updated_at"]} for r in others if (r["consumer"], r["topic"]) not in covered
        ]
        t.claim_inbox[schema] = rows
        t.member_inbox[schema] = await many(
            f"SELECT * FROM {schema}.inbox WHERE event_id = $1", participant["event_id"]
        )
    return t


@dataclass(frozen=True)
class Plan:
    """Which clones to make: `claims` claims; their cards are the first `cards` bench cards, of which the
    first `seeded` already have a member record (the bench projected them)."""

    claims: int
    seeded: int
    hospitals: int = 20

    @property
    def cards(self) -> int:
        return max(1, self.claims // CLAIMS_PER_CARD)


def card_of(j: int) -> str:
    """Bench card j (the same numbering as bench/e2e.py's make_batch)."""
    return f"{2000000000000 + j:013d}"


Rows = Iterator[tuple[Any, ...]]
Table = tuple[str, str, Callable[[], tuple[list[str], Rows]]]  # schema, table, its columns and rows


class Cloner:
    """Clone n's substitutions, and the rows of each table."""

    def __init__(self, t: Templates, plan: Plan, first_payable: int, first_payment: int, first_ledger: int) -> None:
        self.t, self.plan = t, plan
        self.first_payable, self.first_payment, self.first_ledger = first_payable, first_payment, first_ledger
        c = t.claim
        self.base: date = c["tgl_pulang"] or c["updated_at"].date()
        dated = {v for row in self._all_rows() for v in row.values() if isinstance(v, date)}
        day_strings = sorted({(d.date() if isinstance(d, datetime) else d).isoformat() for d in dated})
        self.identity: dict[str, str] = {
            "claim": c["claim_id"], "sep": c["nomor_sep"], "kode_rs": c["kode_rs"], "card": c["nomor_kartu"],
            "payment": t.payment["payment_id"], "run": t.run["run_id"], "nik": t.participant["nik"],
            **{f"d{i}": d for i, d in enumerate(day_strings)},
        }  # fmt: skip
        self.replacer = Replacer(self.identity)
        self._days = [  # per day back: the template's dates moved there (as text), and the SEP's month
            (
                {f"d{i}": (date.fromisoformat(d) + self.shift(day)).isoformat() for i, d in enumerate(day_strings)},
                f"{self.base + self.shift(day):%m%y}",
            )
            for day in range(DAYS)
        ]
        self._hospitals = [hospital_code(h) for h in range(plan.hospitals)]
        self._payment = number_format(t.payment["payment_id"])

    def _all_rows(self) -> list[dict[str, Any]]:
        t = self.t
        inbox = [r for rows in (*t.claim_inbox.values(), *t.member_inbox.values()) for r in rows]
        return [t.claim, *t.history, t.grouping, t.payable, t.payment, *t.ledger, t.run, t.participant, *inbox]

    @staticmethod
    def shift(n: int) -> timedelta:
        """How far back clone n is (the same for every row of the clone)."""
        return timedelta(days=-(DAYS_BACK + n % DAYS))

    @staticmethod
    def run_id(n: int) -> str:
        return f"HIST-RUN-{n % DAYS:03d}"  # one historical payment run a day paid that day's claims

    def subs(self, n: int) -> dict[str, str]:
        """The replacer's fields for clone n (texts: status JSON, history details, memos, accounts)."""
        hospitals = self.plan.hospitals
        kode_rs = self._hospitals[n % hospitals]
        dates, month = self._days[n % DAYS]
        return {
            **self.identity,
            **dates,
            "claim": f"HIST-{n:07d}",
            "sep": f"{kode_rs}{month}H{n // hospitals:06d}",  # 19 characters like the bench's own, unique by n
            "kode_rs": kode_rs,
            "card": card_of(n % self.plan.cards),
            "payment": self._payment.format(self.first_payment + n),
            "run": self.run_id(n),
        }

    def _each_claim(self, templates: Sequence[Mapping[str, Any]], skip: Sequence[str] = ()) -> tuple[list[str], Rows]:
        clones = [Clone(row, self.replacer, skip) for row in templates]

        def rows() -> Rows:
            for n in range(self.plan.claims):
                subs, shift = self.subs(n), self.shift(n)
                for clone in clones:
                    yield clone.make(n, shift, subs)

        return (clones[0].columns if clones else []), rows()

    # ------------------------------------------------------------------------------------------ tables

    def claims(self) -> tuple[list[str], Rows]:
        return self._each_claim([self.t.claim])

    def claim_history(self) -> tuple[list[str], Rows]:
        return self._each_claim(self.t.history, skip=("id",))

    def groupings(self) -> tuple[list[str], Rows]:
        return self._each_claim([self.t.grouping])

    def payment_runs(self) -> tuple[list[str], Rows]:
        clone = Clone(self.t.run, self.replacer)
        return clone.columns, (clone.make(d, self.shift(d), self.subs(d)) for d in range(min(DAYS, self.plan.claims)))

    def payables(self) -> tuple[list[str], Rows]:
        clone, first = Clone(self.t.payable, self.replacer), self.first_payable
        return clone.columns, (
            clone.make(n, self.shift(n), self.subs(n), id=first + n) for n in range(self.plan.claims)
        )

    def payments(self) -> tuple[list[str], Rows]:
        clone, first = Clone(self.t.payment, self.replacer), self.first_payable
        claims = range(self.plan.claims)
        return clone.columns, (clone.make(n, self.shift(n), self.subs(n), payable_id=first + n) for n in claims)

    def ledger_entries(self) -> tuple[list[str], Rows]:
        templates = self.t.ledger
        clones = [Clone(row, self.replacer) for row in templates]
        template_payable = self.t.payable["id"]
        entries = [self.replacer.compile(row["entry_id"]) for row in templates]  # LE-PAY-000000037-payment

        def entry_id(old: str, fmt: str | None, n: int, subs: Mapping[str, str]) -> str:
            if fmt is not None:
                return fmt.format_map(subs)
            if f"-{template_payable}-" in old:  # LE-37-payable: names the payable
                return old.replace(f"-{template_payable}-", f"-{self.first_payable + n}-")
            return f"{old}-H{n}"

        def rows() -> Rows:
            for n in range(self.plan.claims):
                subs, shift, payable = self.subs(n), self.shift(n), self.first_payable + n
                for i, clone in enumerate(clones):
                    entry = entry_id(templates[i]["entry_id"], entries[i], n, subs)
                    number = self.first_ledger + n * len(clones) + i
                    yield clone.make(n, shift, subs, id=number, entry_id=entry, payable_id=payable)

        return (clones[0].columns if clones else []), rows()

    def participants(self) -> tuple[list[str], Rows]:
        """Members of the history cards the bench did not project itself."""
        clone, same = Clone(self.t.participant, self.replacer, skip=("seq",)), self.identity
        members = range(self.plan.seeded, self.plan.cards)
        return clone.columns, (
            clone.make(j, timedelta(0), {**same, "card": card_of(j), "nik": f"3171{j:012d}"}) for j in members
        )

    def inbox(self, schema: str) -> tuple[list[str], Rows]:
        """One row per claim and claim topic the schema's consumers read, and one per new member."""
        claim_clones = [Clone(r, self.replacer) for r in self.t.claim_inbox.get(schema, [])]
        member_clones = [Clone(r, self.replacer) for r in self.t.member_inbox.get(schema, [])]

        def rows() -> Rows:
            for n in range(self.plan.claims):
                subs, shift = self.subs(n), self.shift(n)
                for clone in claim_clones:
                    yield clone.make(n, shift, subs)
            for j in range(self.plan.seeded, self.plan.cards):
                for clone in member_clones:  # the same event id as the member's participants row
                    yield clone.make(j, timedelta(0), self.identity)

        clones = claim_clones or member_clones
        return (clones[0].columns if clones else []), rows()

    def lanes(self) -> list[list[Table]]:
        """Two lists of tables loaded side by side (two cores: one generates while PostgreSQL writes);
        within a list, in an order the foreign keys accept."""
        payments: list[Table] = [
            ("payments", "payment_runs", self.payment_runs),
            ("payments", "payables", self.payables),
            ("payments", "payments", self.payments),
            ("payments", "ledger_entries", self.ledger_entries),
            ("verifier", "participants", self.participants),
        ]
        rest: list[Table] = [
            ("verifier", "claims", self.claims),
            ("verifier", "claim_history", self.claim_history),
            ("grouper", "groupings", self.groupings),
        ]
        for schema in SCHEMAS:
            if self.t.claim_inbox.get(schema) or self.t.member_inbox.get(schema):
                (payments if schema == "notifier" else rest).append((schema, "inbox", partial(self.inbox, schema)))
        return [payments, rest]


async def _reserve(conn: asyncpg.Connection, sequence: str, count: int) -> int:
    """Take `count` consecutive values of a sequence (the services are idle): the first of them."""
    first: int = await conn.fetchval("SELECT nextval($1::regclass)", sequence)
    if count > 1:
        await conn.execute("SELECT setval($1::regclass, $2)", sequence, first + count - 1)
    return first


async def _serial(conn: asyncpg.Connection, table: str, column: str = "id") -> str:
    name: str = await conn.fetchval("SELECT pg_get_serial_sequence($1, $2)", table, column)
    return name


async def _copy(conn: asyncpg.Connection, schema: str, table: str, columns: list[str], rows: Rows) -> int:
    """COPY the rows in chunks of CHUNK, each streamed from the generator (never a list of them)."""
    total = 0
    while True:
        status = await conn.copy_records_to_table(
            table, schema_name=schema, columns=columns, records=itertools.islice(rows, CHUNK)
        )
        copied = int(status.split()[-1])
        total += copied
        if copied < CHUNK:
            return total


async def _lane(dsn: str, tables: list[Table], log: Callable[[str], None]) -> dict[str, tuple[int, float]]:
    out: dict[str, tuple[int, float]] = {}
    conn = await asyncpg.connect(dsn)
    try:
        for schema, table, make in tables:
            t0 = time.monotonic()
            columns, rows = make()
            count = await _copy(conn, schema, table, columns, rows) if columns else 0
            out[f"{schema}.{table}"] = (count, round(time.monotonic() - t0, 1))
            log(f"  {schema}.{table}: {count:,} rows in {time.monotonic() - t0:.1f} s")
    finally:
        await conn.close()
    return out


async def load(dsn: str, template_claim: str, plan: Plan, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Clone `plan.claims` paid claims into every table that grows with them, then VACUUM ANALYZE and
    CHECKPOINT (so neither autovacuum nor the checkpointer is still busy with the load while measuring)."""
    started = time.monotonic()
    conn = await asyncpg.connect(dsn)
    try:
        t = await capture(conn, template_claim)
        first_payable = await _reserve(conn, await _serial(conn, "payments.payables"), plan.claims)
        first_payment = await _reserve(conn, "payments.payment_number", plan.claims)
        first_ledger = await _reserve(conn, await _serial(conn, "payments.ledger_entries"), plan.claims * len(t.ledger))
        cloner = Cloner(t, plan, first_payable, first_payment, first_ledger)
        done = await asyncio.gather(*(_lane(dsn, lane, log) for lane in cloner.lanes()))
        tables = {name: figures for lane in done for name, figures in lane.items()}
        copied = time.monotonic()
        for name in tables:
            await conn.execute(f"VACUUM (ANALYZE) {name}")
        vacuumed = time.monotonic()
        checkpoint = "done"
        try:
            await conn.execute("CHECKPOINT")
        except asyncpg.PostgresError as e:  # needs superuser or pg_checkpoint
            checkpoint = f"not done: {e}"
        finished = time.monotonic()
    finally:
        await conn.close()
    rows = sum(count for count, _ in tables.values())
    return {
        "claims": plan.claims,
        "template_claim": template_claim,
        "rows": {name: count for name, (count, _) in tables.items()},
        "rows_total": rows,
        "copy_seconds_per_table": {name: seconds for name, (_, seconds) in tables.items()},
        "copy_seconds": round(copied - started, 1),
        "vacuum_analyze_seconds": round(vacuumed - copied, 1),
        "checkpoint_seconds": round(finished - vacuumed, 1),
        "checkpoint": checkpoint,
        "load_seconds": round(finished - started, 1),
        "rows_per_s": round(rows / (copied - started)) if copied > started else None,
    }
