"""Operations rules, pure: which deadlines are at risk, what a late payable is accruing, how far a consumer
group is behind, and the page's texts in Indonesian and English.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal, Protocol

DeadlineKind = Literal["resubmit", "deemed_complete", "payment_due"]
DEFAULT_HORIZON_WORKING_DAYS = 3  # a deadline this close is at risk (the payments reminder uses 3 too)


class Calendar(Protocol):
    def add_working_days(self, start: date, n: int) -> date: ...
    def working_days_between(self, a: date, b: date) -> int: ...


@dataclass(frozen=True)
class Deadline:
    kind: DeadlineKind
    claim_id: str
    kode_rs: str | None
    due: date
    amount: int | None = None  # the payable's amount (payment deadlines)
    verification_seq: int | None = None


@dataclass(frozen=True)
class AtRisk:
    deadline: Deadline
    working_days_left: int  # 0: today; negative: passed (working days since)


def horizon_end(calendar: Calendar, today: date, working_days: int) -> date:
    """The last date counted as at risk: `working_days` working days after today."""
    return calendar.add_working_days(today, working_days) if working_days > 0 else today


def working_days_left(calendar: Calendar, today: date, due: date) -> int:
    """Working days after today up to and including `due` (0 on the day; negative once passed)."""
    if due >= today:
        return calendar.working_days_between(today, due)
    return -calendar.working_days_between(due, today)


def at_risk(calendar: Calendar, today: date, deadlines: Sequence[Deadline]) -> list[AtRisk]:
    """The deadlines with their working days left, the most urgent first."""
    found = [AtRisk(d, working_days_left(calendar, today, d.due)) for d in deadlines]
    return sorted(found, key=lambda r: (r.deadline.due, r.deadline.kind, r.deadline.claim_id))


def accrued_penalty(amount: int, days_late: int) -> int:
    """The default penalty method (daily_pro_rata, DOMAIN.md): 1 % x calendar days late / 30, half up."""
    if days_late <= 0:
        return 0
    return int((Decimal(amount) * days_late / Decimal(3000)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class OverduePayable:
    claim_id: str
    verification_seq: int
    kode_rs: str | None
    amount: int
    due_on: date
    reported_as_of: date | None  # the payments service's last PaymentOverdue
    reported_penalty: int | None

    def days_late(self, today: date) -> int:
        return (today - self.due_on).days

    def penalty_today(self, today: date) -> int:
        """What the payable is accruing as of today, by the default method (the payments service decides)."""
        return accrued_penalty(self.amount, self.days_late(today))


@dataclass(frozen=True)
class GroupLag:
    service: str
    group: str
    lag: int | None  # records behind, summed over the partitions; None: could not be read
    partitions_behind: int = 0
    error: str | None = None


def lag_of(end: Mapping[tuple[str, int], int], committed: Mapping[tuple[str, int], int]) -> tuple[int, int]:
    """(records behind, partitions behind): a committed offset is the next record the group will read; a
    partition it never committed on is behind by everything on it."""
    total = behind = 0
    for tp, last in end.items():
        missing = max(last - max(committed.get(tp, -1), 0), 0)
        total += missing
        behind += missing > 0
    return total, behind


@dataclass(frozen=True)
class OutboxBacklog:
    service: str
    schema: str
    waiting: int | None  # unsent, not quarantined; None: could not be read
    quarantined: int | None
    oldest_waiting_s: float | None
    error: str | None = None


LABELS: Mapping[str, Mapping[str, str]] = {
    "id": {
        "title": "Operasional",
        "deadlines": "Tenggat berisiko",
        "horizon": "dalam {n} hari kerja",
        "resubmit": "Batas kirim ulang klaim pending",
        "deemed_complete": "Dianggap lengkap (belum diputus)",
        "payment_due": "Jatuh tempo pembayaran",
        "overdue": "Hutang klaim lewat jatuh tempo (denda berjalan)",
        "outbox": "Antrean outbox per layanan",
        "lag": "Ketertinggalan konsumen per grup",
        "dlq": "Dead letter (DLQ)",
        "redrive": "Kirim ulang",
        "redriven": "sudah dikirim ulang",
        "notifications": "Notifikasi gagal terkirim",
        "kind": "Jenis",
        "claim": "Klaim",
        "hospital": "RS",
        "due": "Tenggat",
        "left": "Sisa hari kerja",
        "amount": "Jumlah",
        "days_late": "Hari terlambat",
        "penalty": "Denda hari ini",
        "reported": "Dilaporkan pembayaran",
        "service": "Layanan",
        "waiting": "Menunggu",
        "quarantined": "Karantina",
        "oldest": "Tertua (detik)",
        "group": "Grup",
        "records": "Record tertinggal",
        "partitions": "Partisi tertinggal",
        "letter": "ID",
        "at": "Waktu",
        "source": "Sumber",
        "consumer": "Konsumen",
        "error": "Galat",
        "reason": "Alasan",
        "status": "Status",
        "attempts": "Percobaan",
        "target": "Tujuan",
        "event": "Event",
        "none": "Tidak ada",
        "unavailable": "tidak dapat dibaca",
        "passed": "lewat",
    },
    "en": {
        "title": "Operations",
        "deadlines": "Deadlines at risk",
        "horizon": "within {n} working days",
        "resubmit": "Pended claim resubmission",
        "deemed_complete": "Deemed complete (undecided)",
        "payment_due": "Payment due",
        "overdue": "Overdue payables (penalty accruing)",
        "outbox": "Outbox backlog per service",
        "lag": "Consumer lag per group",
        "dlq": "Dead letters (DLQ)",
        "redrive": "Redrive",
        "redriven": "already redriven",
        "notifications": "Notification delivery failures",
        "kind": "Kind",
        "claim": "Claim",
        "hospital": "Hospital",
        "due": "Deadline",
        "left": "Working days left",
        "amount": "Amount",
        "days_late": "Days late",
        "penalty": "Penalty today",
        "reported": "Reported by payments",
        "service": "Service",
        "waiting": "Waiting",
        "quarantined": "Quarantined",
        "oldest": "Oldest (s)",
        "group": "Group",
        "records": "Records behind",
        "partitions": "Partitions behind",
        "letter": "ID",
        "at": "When",
        "source": "Source",
        "consumer": "Consumer",
        "error": "Error",
        "reason": "Reason",
        "status": "Status",
        "attempts": "Attempts",
        "target": "Target",
        "event": "Event",
        "none": "None",
        "unavailable": "could not be read",
        "passed": "passed",
    },
}


def label(key: str, language: str, **values: object) -> str:
    text = LABELS.get(language, LABELS["id"]).get(key, key)
    return text.format(**values) if values else text
