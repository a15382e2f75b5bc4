"""Box tables and number formats for the analytics commands' terminal output.

The original Node analytics CLI (``analyze-agent-work.mjs``) printed box-drawing tables (``┌─┬─┐``);
users copy them into issues and chats, so we keep the look. Numbers are right-aligned, text
left-aligned, and cells are cut with an ellipsis so one long error message can't wrap a whole table.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

MAX_CELL = 60


_NUMERIC_TEXT = re.compile(r"^(?:n/a|[-+]?\$?[0-9][0-9,]*(?:\.[0-9]+)?(?:%|s|x| pp| min)?)$")


def _is_number(value: Any) -> bool:
    """Right-align numbers and formatted numbers (``82.2%``, ``$0.05``, ``123.4s``, ``n/a``)."""
    if isinstance(value, str):
        return bool(_NUMERIC_TEXT.match(value))
    return isinstance(value, int | float) and not isinstance(value, bool)


def cell(value: Any, limit: int = MAX_CELL) -> str:
    """One value as table text: empty for null, ``yes``/``no`` for booleans, cut to ``limit``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        text = ""
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, datetime):
        text = iso(value)
    elif isinstance(value, list | tuple):
        text = ", ".join(cell(v, limit) for v in value)
    else:
        text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def box_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, limit: int = MAX_CELL) -> str:
    """A box-drawing table; columns whose values are all numbers are right-aligned."""
    texts = [[cell(v, limit) for v in row] for row in rows]
    numeric = [
        all(_is_number(row[i]) or row[i] is None for row in rows)
        and any(_is_number(row[i]) and row[i] != "n/a" for row in rows)
        for i in range(len(headers))
    ]
    widths = [max([len(h), *(len(r[i]) for r in texts)]) for i, h in enumerate(headers)]

    def line(left: str, mid: str, right: str) -> str:
        return left + mid.join("─" * (w + 2) for w in widths) + right

    def row_text(values: Sequence[str], align_numbers: bool) -> str:
        parts = []
        for i, (v, w) in enumerate(zip(values, widths, strict=True)):
            parts.append(f" {v.rjust(w) if align_numbers and numeric[i] else v.ljust(w)} ")
        return "│" + "│".join(parts) + "│"

    out = [line("┌", "┬", "┐"), row_text(list(headers), False), line("├", "┼", "┤")]
    out.extend(row_text(r, True) for r in texts)
    out.append(line("└", "┴", "┘"))
    return "\n".join(out)


def pct(rate: float | None, digits: int = 1) -> str:
    """``0.822`` → ``82.2%``; ``None`` (no data) → ``n/a``."""
    return "n/a" if rate is None else f"{rate * 100:.{digits}f}%"


def usd(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"${value:,.{digits}f}"


def seconds(ms: float | None) -> str:
    return "n/a" if ms is None else f"{ms / 1000:.1f}s"


def iso(moment: datetime | date | None) -> str:
    """UTC ``2026-02-09T14:23:45Z`` (the original Node analytics CLI's style), or ``YYYY-MM-DD`` for a
    date."""
    if moment is None:
        return ""
    if isinstance(moment, datetime):
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.isoformat()


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)  # paths, decimals...: their text


def dump_json(obj: Any, indent: int | None = 2) -> str:
    """JSON for ``--json`` (every command's): UTC times as ISO strings, NaN as null, stable key
    order, non-ASCII text as itself. ``indent=None`` puts it on one line."""

    def clean(value: Any) -> Any:
        if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    return json.dumps(clean(obj), default=_json_default, ensure_ascii=False, indent=indent)


__all__ = ["box_table", "cell", "dump_json", "iso", "pct", "seconds", "usd"]
