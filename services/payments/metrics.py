"""Business metrics of the payments service (exposed on /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

PAYABLES_CREATED = Counter("payables_created", "Payables created from verified claims")
PAYMENTS = Counter("payments", "Payments made", ["timeliness"])
PAID_RUPIAH = Counter("paid_rupiah", "Rupiah paid out, penalties included")
PENALTY_PAID_RUPIAH = Counter("penalty_paid_rupiah", "Late-payment penalties paid (rupiah)")
OUTSTANDING_RUPIAH = Gauge("payables_outstanding_rupiah", "Approved amounts not yet paid")
OUTSTANDING_COUNT = Gauge("payables_outstanding", "Payables not yet paid")
OVERDUE_COUNT = Gauge("payables_overdue", "Unpaid payables past their due date")
AT_RISK_COUNT = Gauge("payables_at_risk", "Unpaid payables due within the warning window")
SCHEDULED_RUNS_UNFUNDED = Counter(
    "scheduled_runs_unfunded", "Scheduled daily runs that paid nothing because finance allocated no funds for the day"
)
ACCRUED_PENALTY_RUPIAH = Gauge("penalty_accrued_rupiah", "Penalty the fund owes if it paid every overdue payable today")


def record_payment(total: int, penalty: int, *, late: bool) -> None:
    """Count one payment."""
    PAYMENTS.labels("late" if late else "on_time").inc()
    PAID_RUPIAH.inc(total)
    PENALTY_PAID_RUPIAH.inc(penalty)
