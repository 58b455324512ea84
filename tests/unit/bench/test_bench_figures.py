"""The benchmark's arithmetic and its claims: percentiles, goals, and claims every service accepts."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from bench.common import Proc, percentile, summary_ms
from bench.e2e import LazyItems, bottleneck, goal_line, goals, make_batch
from services.grouper.domain import Grouped, group_claim, load_grouper_tables
from shared.events import ClaimSubmitted, ParticipantChanged, parse_event


def test_percentile_interpolates_between_closest_ranks() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 100.0
    assert percentile([3.0], 99) == 3.0
    assert math.isnan(percentile([], 50))


def test_summary_is_in_milliseconds_and_counts_samples() -> None:
    s = summary_ms([0.1, 0.2, 0.3, 0.4])
    assert s["count"] == 4
    assert s["p50_ms"] == pytest.approx(250.0)
    assert s["max_ms"] == pytest.approx(400.0)
    assert summary_ms([]) == {"count": 0}


def test_bottleneck_is_the_stage_falling_furthest_below_its_feed() -> None:
    rates: dict[str, float | None] = {"grouped": 536.0, "verified": 254.0, "paid": 251.0}
    assert bottleneck(rates, None) == "verified"  # offered all at once: the first stage is not judged
    assert bottleneck({"grouped": 120.0, "verified": 118.0, "paid": 117.0}, 200.0) == "grouped"
    assert bottleneck({"grouped": 536.0, "verified": None, "paid": None}, None) == "verified"


def _result(cps: float, p99: float, rss: dict[str, float], shares: dict[str, float]) -> dict[str, Any]:
    return {
        "raw_ceiling": {"messages_per_s": 4000},
        "throughput": {"claims_per_s": cps, "cpu_ms_per_claim_all_processes": 1.6},
        "latency_at_rate": {
            "offered_rate_target": 200.0,
            "latency": {"submitted_to_verified_observed": {"p99_ms": p99}},
        },
        "deadlocks_in_logs": {"grouper": 0, "verifier": 3, "payments": 0, "notifier": 0},
        "scale": {"history_claims": 1_000_000, "ratio_to_empty": 0.7, "throughput": {"claims_per_s": cps * 0.7}},
        "rss_peak_mb": rss,
        "two_instances": {
            "claims": 4000,
            "share_per_instance": shares,
            "handled_total": 4000,
            "verified_once": 4000,
            "paid_once": 4000,
            "totals_unchanged": True,
        },
    }


def test_goals_say_met_or_missed_by_how_much_and_the_ratio_to_the_target() -> None:
    out = {
        g["goal"]: g for g in goals(_result(250.0, 1500.0, {"grouper": 173.0, "verifier": 210.0}, {"a": 0.3, "b": 0.7}))
    }
    ceiling = out["end-to-end claims/s >= 25% of the raw four-hop ceiling of the same run"]
    assert ceiling["measured"] == 0.0625 and ceiling["ratio"] == 0.25 and not ceiling["met"]
    assert ceiling["missed_by"].startswith("750 claims/s")  # 25 % of 4000 is 1000
    throughput = out["end-to-end claims/s (submitted -> paid)"]
    assert not throughput["met"] and throughput["missed_by"].startswith("750 claims/s") and throughput["ratio"] == 0.25
    cpu = out["CPU per claim, all processes (services, PostgreSQL, broker, bench)"]
    assert not cpu["met"] and cpu["ratio"] == 1.6 and cpu["missed_by"] == "0.60 ms per claim"
    latency = out["p99 submitted -> verified at 200 claims/s offered"]
    assert not latency["met"] and latency["missed_by"] == "1000 ms" and latency["ratio"] == 3.0
    deadlocks = out["no DeadlockDetectedError in any service's log"]
    assert not deadlocks["met"] and deadlocks["missed_by"] == "3 log lines: verifier 3"
    scale = out["throughput with 1,000,000 claims stored within 20 % of the empty-table figure"]
    assert not scale["met"] and scale["measured"] == 0.7 and scale["ratio"] == 0.875
    assert out["grouper peak RSS"]["met"] and out["grouper peak RSS"]["missed_by"] is None
    assert out["verifier peak RSS"]["missed_by"] == "10 MB" and out["verifier peak RSS"]["ratio"] == 1.05
    assert not out["two verifier instances: each handles 35-65 % of the claims"]["met"]
    assert out["two verifier instances: totals unchanged (each claim verified and paid exactly once)"]["met"]

    good = _result(1200.0, 300.0, {"grouper": 100.0}, {"a": 0.5, "b": 0.5})
    good["raw_ceiling"]["messages_per_s"] = 4800
    good["throughput"]["cpu_ms_per_claim_all_processes"] = 0.9
    good["deadlocks_in_logs"]["verifier"] = 0
    good["scale"]["ratio_to_empty"] = 0.85
    met = goals(good)
    assert all(g["met"] for g in met), [g for g in met if not g["met"]]


def test_a_skipped_phase_is_not_measured_rather_than_missed() -> None:
    result = _result(1200.0, 300.0, {"grouper": 100.0}, {"a": 0.5, "b": 0.5})
    del result["scale"], result["latency_at_rate"], result["two_instances"]
    out = {g["goal"]: g for g in goals(result)}
    skipped = [name for name, g in out.items() if g["met"] is None]
    assert skipped == [
        "p99 submitted -> verified at 200 claims/s offered",
        "throughput with 0 claims stored within 20 % of the empty-table figure",
        "two verifier instances: each handles 35-65 % of the claims",
        "two verifier instances: totals unchanged (each claim verified and paid exactly once)",
    ]
    line = goal_line(out["p99 submitted -> verified at 200 claims/s offered"])
    assert line.startswith("  [not measured] p99 submitted -> verified")
    assert (
        goal_line(out["grouper peak RSS"]) == "  [met] grouper peak RSS: 100.0 (target < 200 MB, measured/target 0.5)"
    )


def test_bench_claims_are_clean_unique_and_sent_with_a_fresh_instant() -> None:
    batch = make_batch("t", 0, 40, seed=1)
    assert len(set(batch.claim_ids)) == 40
    seps = {s.payload.claim.nomor_sep for s in batch.submissions}
    cards = {s.payload.claim.nomor_kartu for s in batch.submissions}
    assert len(seps) == len(cards) == 40
    for s in batch.submissions:
        claim = s.payload.claim
        assert len(claim.nomor_sep) == 19 and claim.nomor_sep.startswith(claim.kode_rs)
        assert len(claim.nomor_kartu) == 13 and claim.nomor_kartu.isdigit()
    assert {m.payload.nomor_kartu for m in batch.members} == cards
    assert all(isinstance(m, ParticipantChanged) and m.payload.status == "active" for m in batch.members)
    tables = load_grouper_tables()
    assert all(isinstance(group_claim(s.payload.claim, tables), Grouped) for s in batch.submissions)

    topic, key, value = LazyItems(batch.submissions)[0]
    sent = parse_event(value)
    assert isinstance(sent, ClaimSubmitted)
    assert topic == "claims.submitted" and key == batch.claim_ids[0].encode()
    assert sent.occurred_at > batch.submissions[0].occurred_at


def test_deadlocks_are_counted_per_service_log_line(tmp_path: Path) -> None:
    log = tmp_path / "verifier.log"
    log.write_text(
        '{"event": "batch failed", "exception": "asyncpg.exceptions.DeadlockDetectedError: deadlock detected"}\n'
        '{"event": "retrying"}\n'
        '{"event": "batch failed", "error": "DeadlockDetectedError"}\n'
    )
    assert Proc("verifier", 1, log_path=log).log_lines_with("DeadlockDetectedError") == 2
    assert Proc("grouper", 2, log_path=tmp_path / "missing.log").log_lines_with("DeadlockDetectedError") == 0
