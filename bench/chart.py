"""The e2e benchmark's chart: throughput against the raw broker ceiling, latency per stage, peak RSS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt

LATENCY_STAGES = (
    ("submitted_to_grouped", "submitted\n→ grouped"),
    ("grouped_to_verified", "grouped\n→ verified"),
    ("verified_to_paid", "verified\n→ paid"),
    ("submitted_to_verified_observed", "submitted\n→ verified\n(seen)"),
    ("submitted_to_paid_observed", "submitted\n→ paid\n(seen)"),
)


def _throughput(ax: Any, result: dict[str, Any]) -> None:
    """The raw ceiling, then each stage's claims/s on empty tables and with the history stored."""
    tput = result.get("throughput", {})
    scale = result.get("scale") or {}
    full = scale.get("throughput") or {}
    raw = result.get("raw_ceiling", {}).get("messages_per_s")
    stages = ("grouped", "verified", "paid")
    empty = [tput.get("stage_claims_per_s", {}).get(s) for s in stages]
    empty[-1] = tput.get("claims_per_s") or empty[-1]  # paid: the end-to-end figure
    loaded = [full.get("stage_claims_per_s", {}).get(s) for s in stages]
    loaded[-1] = full.get("claims_per_s") or loaded[-1]
    width = 0.38
    xs = list(range(1, len(stages) + 1))
    bars = [ax.bar([0], [float(raw or 0)], 0.6, color="#999999", label="raw broker, 4 hops (messages/s)")]
    bars.append(ax.bar([x - width / 2 for x in xs], [float(v or 0) for v in empty], width, color="#4c72b0",
                       label="empty tables"))  # fmt: skip
    if full:
        history = scale.get("history_claims", 0)
        bars.append(ax.bar([x + width / 2 for x in xs], [float(v or 0) for v in loaded], width, color="#dd8452",
                           label=f"{history:,} claims stored"))  # fmt: skip
    labels = ["raw broker\n(4 hops)", "grouped", "verified", "paid\n(end to end)"]
    two = result.get("two_instances")
    if two and two.get("verified_claims_per_s"):
        bars.append(ax.bar([len(xs) + 1], [float(two["verified_claims_per_s"])], 0.6, color="#55a868",
                           label="2 verifiers"))  # fmt: skip
        labels.append("verified,\n2 verifiers")
    for rects in bars:
        ax.bar_label(rects, labels=[f"{r.get_height():,.0f}" for r in rects], fontsize=7)
    ax.set_xticks(list(range(len(labels))), labels, fontsize=8)
    ax.axhline(1000, color="red", linestyle="--", linewidth=1, label="goal 1,000 claims/s")
    if raw:
        ax.axhline(
            0.25 * raw, color="purple", linestyle=":", linewidth=1, label=f"goal 25 % of raw ({0.25 * raw:,.0f})"
        )
    if raw or any(empty):
        ax.set_yscale("log")
    ax.set_ylabel("claims (messages) per second, log scale")
    ratio = result.get("ratio_to_raw_ceiling")
    ratio_text = f", {ratio:.1%} of the raw ceiling" if ratio else ""
    vs = scale.get("ratio_to_empty")
    vs_text = f"; with history {vs:.0%} of empty" if vs else ""
    ax.set_title(f"Throughput, {tput.get('claims', 0):,} claims at once{ratio_text}{vs_text}", fontsize=9)
    ax.legend(fontsize=7, loc="upper right")


def _latency(ax: Any, result: dict[str, Any]) -> None:
    lat = result.get("latency_at_rate", {})
    stages = lat.get("latency", {})
    xs = range(len(LATENCY_STAGES))
    width = 0.27
    for offset, (key, color) in enumerate((("p50_ms", "#4c72b0"), ("p95_ms", "#dd8452"), ("p99_ms", "#c44e52"))):
        values = [float(stages.get(stage, {}).get(key, 0) or 0) for stage, _ in LATENCY_STAGES]
        rects = ax.bar(
            [x + (offset - 1) * width for x in xs], values, width, label=key.removesuffix("_ms"), color=color
        )
        ax.bar_label(rects, labels=[f"{v:,.0f}" for v in values], fontsize=6, rotation=90, padding=2)
    markers = iter(("D", "s", "^", "v"))
    for rate, other in result.get("latency_at_other_rates", {}).items():  # e.g. the national peak, 100/s
        p99 = [float(other["latency"].get(stage, {}).get("p99_ms", 0) or 0) for stage, _ in LATENCY_STAGES]
        ax.scatter([x + width for x in xs], p99, marker=next(markers, "o"), color="black", zorder=3,
                   label=f"p99 at {rate} claims/s")  # fmt: skip
    ax.set_xticks(list(xs), [label for _, label in LATENCY_STAGES], fontsize=8)
    ax.axhline(500, color="red", linestyle="--", linewidth=1, label="goal p99 submitted→verified < 500 ms")
    if stages:
        ax.set_yscale("log")
    ax.set_ylabel("milliseconds, log scale")
    rate = lat.get("offered_rate_target") or 0
    ax.set_title(f"Latency per stage at {rate:.0f} claims/s offered ({lat.get('claims', 0):,} claims)", fontsize=10)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3)


def _rss(ax: Any, result: dict[str, Any]) -> None:
    rss = {**result.get("rss_peak_mb", {})}
    for label, shown in (("broker", "broker"), ("postgres", "postgres\n(all backends)")):
        if label in result.get("rss_peak_mb_other", {}):
            rss[shown] = result["rss_peak_mb_other"][label]
    labels = list(rss)
    values = [float(v) for v in rss.values()]
    colors = ["#4c72b0" if label in result.get("rss_peak_mb", {}) else "#999999" for label in labels]
    rects = ax.bar(labels, values, color=colors)
    ax.bar_label(rects, labels=[f"{v:.0f}" for v in values], fontsize=8)
    ax.axhline(200, color="red", linestyle="--", linewidth=1, label="goal < 200 MB per service")
    ax.set_ylabel("peak RSS, MB")
    ax.set_title("Peak RSS per process (whole run)", fontsize=10)
    ax.tick_params(axis="x", labelsize=8, rotation=20)
    ax.legend(fontsize=8)


def draw(result: dict[str, Any], path: Path) -> None:
    """Write the three panels to `path` (PNG)."""
    fig, axes = plt.subplots(1, 3, figsize=(18, 6.5), gridspec_kw={"width_ratios": [1.1, 1.4, 1.0]})
    _throughput(axes[0], result)
    _latency(axes[1], result)
    _rss(axes[2], result)
    machine = result.get("machine", {})
    fig.suptitle(
        f"JKN claims backbone, local stack ({result.get('stack', '?')}), {machine.get('cpu_count')} cores, "
        f"Python {machine.get('python')}, {machine.get('date', '')}",
        fontsize=11,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
