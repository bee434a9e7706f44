"""Exact money: points as integer micro-points (1 point = 1,000,000 micro-points).

10 points are worth 1 CNY. Every balance, price, hold and charge is an ``int`` of micro-points
or a ``Decimal`` of points; floats appear only at the JSON boundary (``points_json``).
"""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, Decimal, InvalidOperation

__all__ = [
    "MICRO",
    "POINTS_PER_CNY",
    "ceil_micro",
    "cny_to_micro",
    "from_micro",
    "micro_to_cny",
    "points_json",
    "to_micro",
]

MICRO = 1_000_000
"""Micro-points per point."""

POINTS_PER_CNY = 10
"""Points bought by one CNY."""

_MICRO_DECIMAL = Decimal(MICRO)


def to_micro(value: Decimal | str | int) -> int:
    """Convert points to micro-points; raise ValueError when ``value`` has more than 6 decimals."""
    if isinstance(value, float):
        raise TypeError("points must be a Decimal, str or int, never a float")
    try:
        points = Decimal(value)
    except InvalidOperation as exc:
        raise ValueError(f"{value!r} is not a number of points") from exc
    if not points.is_finite():
        raise ValueError(f"{value!r} is not a finite number of points")
    scaled = points * _MICRO_DECIMAL
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{value!r} has more than 6 decimals; points are exact to 0.000001")
    return int(scaled)


def ceil_micro(points: Decimal) -> int:
    """Round a Decimal amount of points up to whole micro-points (the one rounding of a charge)."""
    return int((points * _MICRO_DECIMAL).to_integral_value(rounding=ROUND_CEILING))


def from_micro(micro: int) -> Decimal:
    """Convert micro-points to a Decimal of points, without trailing zeros."""
    value = Decimal(micro) / _MICRO_DECIMAL
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def points_json(micro: int) -> int | float:
    """Return micro-points as a JSON number of points with at most 6 decimals.

    Whole amounts become ints. Other amounts become the float whose shortest representation
    is the exact decimal, which holds while the amount has at most 15 significant digits
    (balances below a billion points).
    """
    if micro % MICRO == 0:
        return micro // MICRO
    value = float(Decimal(micro) / _MICRO_DECIMAL)
    if not math.isfinite(value):
        raise ValueError(f"{micro} micro-points cannot be shown as a JSON number")
    return value


def cny_to_micro(cny: Decimal) -> int:
    """Convert a CNY amount to micro-points (10 points per CNY), rounding up."""
    return ceil_micro(Decimal(cny) * POINTS_PER_CNY)


def micro_to_cny(micro: int) -> Decimal:
    """Convert micro-points to CNY, exact."""
    return Decimal(micro) / _MICRO_DECIMAL / POINTS_PER_CNY
