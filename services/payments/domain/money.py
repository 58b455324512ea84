"""Exact rupiah arithmetic: amounts are whole rupiah, intermediate values are Fractions."""

from __future__ import annotations

from fractions import Fraction


def round_half_up(value: Fraction) -> int:
    """Round to a whole rupiah, halves away from zero (commercial rounding), exactly."""
    magnitude = abs(value)
    # floor(|x| + 1/2) in integers: no binary float ever sees the amount.
    rounded = (2 * magnitude.numerator + magnitude.denominator) // (2 * magnitude.denominator)
    return rounded if value >= 0 else -rounded
