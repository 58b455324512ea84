"""The e2e chart renders from a result (matplotlib, Agg backend), even a partial one."""

from __future__ import annotations

from pathlib import Path

from bench.chart import draw  # matplotlib is a pinned dev dependency: no skip path


def test_chart_is_a_png_from_a_full_result(tmp_path: Path) -> None:
    stage = {"count": 10, "p50_ms": 90.0, "p95_ms": 250.0, "p99_ms": 340.0}
    result = {
        "stack": "embedded",
        "machine": {"cpu_count": 2, "python": "3.11", "date": "2026-11-29"},
        "raw_ceiling": {"messages_per_s": 5800},
        "ratio_to_raw_ceiling": 0.043,
        "throughput": {"claims": 20000, "claims_per_s": 251.2, "stage_claims_per_s": {"grouped": 536, "verified": 254}},
        "latency_at_rate": {"claims": 4000, "offered_rate_target": 200.0, "latency": {"submitted_to_grouped": stage}},
        "rss_peak_mb": {"grouper": 172.9, "verifier": 158.3},
        "rss_peak_mb_other": {"broker": 327.2, "postgres": 906.6},
        "two_instances": {"verified_claims_per_s": 228.4},
    }
    out = tmp_path / "e2e.png"
    draw(result, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_chart_tolerates_a_run_that_stopped_early(tmp_path: Path) -> None:
    out = tmp_path / "partial.png"
    draw({"raw_ceiling": {"messages_per_s": 5800}}, out)
    assert out.stat().st_size > 0
