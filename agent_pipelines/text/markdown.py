"""Markdown we emit (Dagster metadata, the weekly report): one escape for every value from the logs.

Values from the logs are full of characters Markdown reads as syntax: the clustering's placeholders
``<URL>``, ``<PATH>``, ``<UUID>`` look like HTML tags, and the UI drops raw HTML, so a cluster label
read "HTTP 401 Unauthorized: GET (request )"; ``*``, ``_``, backticks and brackets turn into emphasis,
code and links; a ``|`` splits a table cell. CommonMark lets a backslash escape any ASCII punctuation
character, so :func:`escape` puts one before each of them: the text then renders exactly as logged,
in any CommonMark renderer, in a table cell or not. Line breaks become spaces (a cell is one line).

Everything that writes Markdown goes through :func:`escape` (one value), :func:`escape_expr` (a
polars column), :func:`link` (a link whose text is escaped) or :func:`table` (a frame as a Markdown
table; a :class:`Raw` cell, such as a link, goes in as written).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import polars as pl

# ASCII punctuation that CommonMark/GFM may read as syntax inside a line (backslash-escapable, spec
# §2.4). ``.``, ``-``, ``+``, ``(`` and ``)`` are syntax only at a line's start or after ``]``, which
# never happens to an escaped value, so they stay readable in the Markdown source.
_SPECIAL = r"\\`*_{}\[\]<>#!|~&"
_SPECIAL_RE = re.compile(f"([{_SPECIAL}])")
_SPACE_RE = re.compile(r"\s+")
# At a line's start, more is syntax: list markers (``-``, ``+``, ``1.``, ``1)``), a thematic break
# or setext underline (``---``, ``===``).
_LEAD_RE = re.compile(r"^(?:([-+=])|(\d+)([.)]))")


def clip(text: str, limit: int | None) -> str:
    """One line, at most ``limit`` characters (an ellipsis marks the cut)."""
    text = _SPACE_RE.sub(" ", text).strip()
    if limit is not None and len(text) > limit:
        return text[: max(0, limit - 1)] + "…"
    return text


def escape(value: Any, limit: int | None = None) -> str:
    """``value`` as Markdown text that renders as itself: ``<URL>`` stays ``<URL>``."""
    if value is None:
        return ""
    text = _SPECIAL_RE.sub(r"\\\1", clip(str(value), limit))
    return _LEAD_RE.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", text, count=1)


def escape_expr(expr: pl.Expr, limit: int | None = None) -> pl.Expr:
    """:func:`escape` on a string column, vectorized."""
    text = expr.cast(pl.String).str.replace_all(r"\s+", " ").str.strip_chars()
    if limit is not None:
        text = (
            pl.when(text.str.len_chars() > limit)
            .then(text.str.slice(0, max(0, limit - 1)) + pl.lit("…"))
            .otherwise(text)
        )
    text = text.str.replace_all(f"([{_SPECIAL}])", r"\$1")
    return text.str.replace(r"^([-+=])", r"\$1").str.replace(r"^(\d+)([.)])", r"$1\$2")


class Raw(str):
    """Markdown already written (a link made by :func:`link`): :func:`table` puts it in as it is."""


def link(text: Any, url: str, limit: int | None = None) -> Raw:
    """``[text](url)``, the text escaped and the URL in angle brackets (spaces and parentheses safe)."""
    target = url.replace("<", "%3C").replace(">", "%3E").replace(" ", "%20")
    return Raw(f"[{escape(text, limit)}](<{target}>)")


def _cell(value: Any, limit: int | None) -> str:
    if value is None:
        return ""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list | tuple):
        if value and all(isinstance(v, Raw) for v in value):
            return ", ".join(value)
        return escape(", ".join(str(v) for v in value), limit)
    if hasattr(value, "isoformat") and hasattr(value, "hour"):
        return escape(value.strftime("%Y-%m-%d %H:%M:%S"))
    return escape(value, limit)


def table(
    frame: pl.DataFrame,
    limit: int = 20,
    max_chars: int | None = 80,
    *,
    headers: Sequence[str] | None = None,
    align: Sequence[str] | None = None,
) -> str:
    """A frame as a GFM table (its first ``limit`` rows), every cell escaped and clipped.

    ``headers`` replaces the column names (escaped too); ``align`` holds ``"l"``/``"r"``/``"c"`` per
    column (numbers right-aligned by default).
    """
    names = list(headers) if headers is not None else frame.columns
    if align is None:
        align = ["r" if dtype.is_numeric() else "l" for dtype in frame.dtypes]
    rule = {"l": "---", "r": "---:", "c": ":-:"}
    lines = [
        "| " + " | ".join(escape(n) or " " for n in names) + " |",
        "|" + "|".join(rule.get(a, "---") for a in align) + "|",
    ]
    for row in frame.head(limit).iter_rows():
        lines.append("| " + " | ".join(_cell(v, max_chars) for v in row) + " |")
    if frame.height > limit:
        lines.append("")
        lines.append(f"_{frame.height - limit:,} more rows_")
    if frame.height == 0:
        lines.append("| " + " | ".join("" for _ in names) + " |")
    return "\n".join(lines)


__all__ = ["Raw", "clip", "escape", "escape_expr", "link", "table"]
