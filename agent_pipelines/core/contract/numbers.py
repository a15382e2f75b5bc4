"""One bounded parse for every numeric field, shared by the contract's rules (the reader, in Python and
in polars), the logger and the importers.

Why: JSON has no limits on numbers and Python none on ints, but everything downstream does — polars
holds an ``Int64`` and a ``Float64``, ``float()`` of a 310-digit int raises ``OverflowError``, and an
infinite cost prints as ``$inf`` or ``$nan`` in a report. A value outside these bounds is refused,
with its reason, where it enters; nothing past that point has to check again.

* integers: at most :data:`INT_DIGITS` digits (inside int64 with room for sums of a day);
* numbers: finite as a double (``1e400`` and a 310-digit integer are not).
"""

from __future__ import annotations

import math
import re
from typing import Any

import polars as pl

INT_DIGITS = 18
INT_TEXT = rf"^-?\d{{1,{INT_DIGITS}}}$"
NUMBER_TEXT = r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$"
INT_LIMIT = 10**INT_DIGITS  # exclusive: |value| < INT_LIMIT
_INT_STRING = re.compile(INT_TEXT)
_NUMBER_STRING = re.compile(NUMBER_TEXT)


def _clip(value: Any) -> str:
    text = str(value) if not isinstance(value, int) or abs(value) < 10**40 else f"{str(value)[:20]}..."
    return text[:40] + ("..." if len(text) > 40 else "")


def int_problem(value: Any) -> str | None:
    """Why ``value`` (a decoded JSON value, or its text) is no bounded integer, or ``None``."""
    if isinstance(value, str):
        return (
            None
            if _INT_STRING.match(value)
            else f"{_clip(value)!r} is not an integer of at most {INT_DIGITS} digits"
        )
    if isinstance(value, bool) or not isinstance(value, int):
        return f"{type(value).__name__} is not an integer"
    if abs(value) >= INT_LIMIT:
        return f"{_clip(value)} has more than {INT_DIGITS} digits"
    return None


def number_problem(value: Any) -> str | None:
    """Why ``value`` is no finite number (as a double), or ``None``."""
    if isinstance(value, str):
        if not _NUMBER_STRING.match(value):
            return f"{_clip(value)!r} is not a number"
        number = float(value)  # text never overflows float(): it gives inf
    elif isinstance(value, bool) or not isinstance(value, int | float):
        return f"{type(value).__name__} is not a number"
    else:
        try:
            number = float(value)
        except OverflowError:
            return f"{_clip(value)} is beyond a double"
    if not math.isfinite(number):
        return f"{_clip(value)} is not a finite number"
    return None


def as_int(value: Any) -> int | None:
    """``value`` as a bounded int, or ``None`` when it is not one (for readers that skip, not refuse)."""
    if int_problem(value) is not None:
        return None
    return int(value)


def as_number(value: Any) -> float | None:
    """``value`` as a finite float, or ``None`` when it is not one."""
    if number_problem(value) is not None:
        return None
    return float(value)


def int_text_fails(col: pl.Expr) -> pl.Expr:
    """The integer check over JSON text in polars (the same verdicts as :func:`int_problem`)."""
    return ~col.str.contains(INT_TEXT)


def number_text_fails(col: pl.Expr) -> pl.Expr:
    """The number check over JSON text in polars: the grammar, and finite once cast (polars gives
    ``inf`` for a 310-digit integer or ``1e400``, as ``float()`` of the text does)."""
    return ~col.str.contains(NUMBER_TEXT) | ~col.cast(pl.Float64, strict=False).is_finite().fill_null(False)
