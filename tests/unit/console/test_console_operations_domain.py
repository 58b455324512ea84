"""The operations rules, pure: working days left to a deadline, the penalty a late payable accrues, how far
a consumer group is behind; and the page escaping what it shows."""

from __future__ import annotations

from datetime import date

from services.console.application.operations import OperationsView
from services.console.domain import operations
from services.console.domain.operations import Deadline, OverduePayable
from services.console.entrypoints.operations_pages import no_break
from services.console.entrypoints.session import templates_environment
from shared.calendar import WorkingCalendar

CAL = WorkingCalendar()
MONDAY = date(2026, 11, 16)


def test_working_days_left_count_working_days_only() -> None:
    # Mon 16 Nov 2026: Thu 19 is 3 working days away, Mon 23 is 5 (the weekend does not count),
    # today is 0, and Fri 13 passed one working day ago.
    left = [operations.working_days_left(CAL, MONDAY, d) for d in (date(2026, 11, 19), date(2026, 11, 23), MONDAY,
                                                                    date(2026, 11, 13))]  # fmt: skip
    assert left == [3, 5, 0, -1]
    assert operations.horizon_end(CAL, MONDAY, 3) == date(2026, 11, 19)
    # Across a holiday: Thu 24 Dec (cuti bersama) and Fri 25 Dec (Christmas) are not working days.
    assert operations.horizon_end(CAL, date(2026, 12, 23), 1) == date(2026, 12, 28)


def test_deadlines_at_risk_most_urgent_first() -> None:
    found = operations.at_risk(CAL, MONDAY, [
        Deadline("payment_due", "C", "0301R001", date(2026, 11, 18), 5_634_100, 0),
        Deadline("resubmit", "A", "0301R001", date(2026, 11, 17)),
        Deadline("deemed_complete", "B", "0301R002", date(2026, 11, 17)),
    ])  # fmt: skip
    assert [(r.deadline.claim_id, r.working_days_left) for r in found] == [("B", 1), ("A", 1), ("C", 2)]


def test_the_penalty_accruing_is_one_percent_a_month_by_the_day() -> None:
    # 5,634,100 x 1 % x 10 / 30 = 18,780.33 -> 18,780; x 1 / 30 = 1,878.03 -> 1,878; not late: 0
    assert [operations.accrued_penalty(5_634_100, d) for d in (10, 1, 0)] == [18_780, 1_878, 0]
    late = OverduePayable("B4", 0, "0301R002", 5_634_100, date(2026, 12, 1), date(2026, 12, 3), 3_756)
    assert (late.days_late(date(2026, 12, 11)), late.penalty_today(date(2026, 12, 11))) == (10, 18_780)


def test_lag_counts_what_each_partition_has_not_committed() -> None:
    end = {("claims.pended", 0): 10, ("claims.pended", 1): 5, ("claims.paid", 0): 0}
    committed = {("claims.pended", 0): 10, ("claims.pended", 1): -1}
    assert operations.lag_of(end, committed) == (5, 1)
    assert operations.lag_of(end, {("claims.pended", 0): 7, ("claims.pended", 1): 5}) == (3, 1)


def test_the_operations_page_renders_in_both_languages_and_escapes() -> None:
    view = OperationsView(MONDAY, 3, operations.at_risk(CAL, MONDAY, [Deadline("resubmit", "<b>A</b>", "0301R001",
                                                                              date(2026, 11, 17))]), [])  # fmt: skip
    for language, heading in (("id", "Tenggat berisiko"), ("en", "Deadlines at risk")):
        html = templates_environment().get_template("operations.html").render(
            t=lambda key, **_: key, language=language, operator=None, path="/operations", csrf_token="", zones={},
            view=view, days=3, l=lambda key, language=language, **values: operations.label(key, language, **values),
            nb=no_break,
        )  # fmt: skip
        assert heading in html
        assert "<b>A</b>" not in html and "&lt;b&gt;A&lt;/b&gt;" in html
