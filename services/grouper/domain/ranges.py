"""Code-range tables: resolve every code of a code set to the narrowest matching row once."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

V = TypeVar("V")

# Sorts after every character used in undotted ICD codes (digits, capitals).
_HIGH = "~"


@dataclass(frozen=True, slots=True)
class RangeRule(Generic[V]):
    """Codes whose undotted prefix lies in [start, end] map to `value`."""

    start: str
    end: str
    value: V


def parse_range(text: str) -> tuple[str, str]:
    """'A15-A19' -> ('A15', 'A19'); 'K92' -> ('K92', 'K92'); dots are dropped."""
    start, _, end = text.replace(".", "").partition("-")
    return start, end or start


def resolve_ranges(rules: Iterable[RangeRule[V]], sorted_codes: Sequence[str]) -> dict[str, V]:
    """Map each undotted code to the value of its narrowest rule (later row wins a tie)."""
    spans: list[tuple[int, int, int, V]] = []
    for order, rule in enumerate(rules):
        lo = bisect_left(sorted_codes, rule.start)
        hi = bisect_right(sorted_codes, rule.end + _HIGH)
        spans.append((hi - lo, order, lo, rule.value))
    resolved: dict[str, V] = {}
    # Broadest first, so narrower rules overwrite: "narrowest wins" without per-code search.
    for size, _order, lo, value in sorted(spans, key=lambda s: (-s[0], s[1])):
        for code in sorted_codes[lo : lo + size]:
            resolved[code] = value
    return resolved


def invert(mapping: Mapping[str, V]) -> dict[V, list[str]]:
    """Codes per value, sorted (for tests and reports)."""
    out: dict[V, list[str]] = {}
    for code in sorted(mapping):
        out.setdefault(mapping[code], []).append(code)
    return out


def resolve_codes(
    rules: Iterable[RangeRule[V]], sorted_undotted: Sequence[str], spelling: Mapping[str, str]
) -> dict[str, V]:
    """Like `resolve_ranges`, keyed by the dotted form (`spelling` maps undotted -> dotted)."""
    return {spelling[code]: value for code, value in resolve_ranges(rules, sorted_undotted).items()}
