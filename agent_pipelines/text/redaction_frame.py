"""Redaction over whole polars columns: the reader's and the importers' one pass where text enters.

Why: secrets must be gone before anything downstream (masking, template mining, fingerprints,
Parquet, Dagster metadata, Telegram) sees the text. Masking first turns ``sk-ant-api03-Xk3...`` into
``sk-ant-api03-Xk<ID>...``, which no pattern recognises any more, so redaction has to come first and
be done once, on the way in.

:func:`~agent_pipelines.text.redaction.redact` is Python regexes, too slow for every cell of a day
of logs. So a cheap screen runs in polars first (:data:`SCREEN`, one Rust regex that matches
whenever any redaction pattern could: a superset, checked by the tests), and only the rare cells it
flags go through Python. JSON text (``data``, ``tool_params``) is parsed and redacted value by value
(:func:`~agent_pipelines.text.redaction.redact_value`, which also blanks values under secret-named
keys) and written back, so the text stays valid JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence

import polars as pl

from agent_pipelines.text.redaction import redact, redact_value, registered_secrets

# One regex (Rust syntax: no look-behind, no back-references) that matches wherever any pattern of
# :mod:`agent_pipelines.text.redaction` can. It may match more (then Python finds nothing to do);
# it must never match less.
# Whitespace as it reads in text, and as JSON text writes it inside a string: ``\n`` ``\t`` ``\f``...,
# ``\u000b``, ``\u2028`` (any ``\uXXXX``: the screen may match more), behind one backslash or, in JSON
# text quoted again (a command's output holding JSON), several. The ``data`` column is screened as
# JSON text and redacted decoded, where such an escape is whitespace again.
_SPACE = r"(?:\s|\\+[nrtfb]|\\+u[0-9a-fA-F]{4})"

SCREEN = "|".join(
    (
        r"PRIVATE KEY-----",
        r"://[^\s/:@\x22'<>]{1,256}:[^\s/@\x22'<>]{1,512}@",  # user:password@ in a URL
        r"(?i:authorization)",
        r"(?i:bearer)" + _SPACE,
        r"\d{6,12}:[A-Za-z0-9_-]{30}",  # Telegram bot token
        r"sk-[A-Za-z0-9_-]{20}",
        r"[sr]k_(?:live|test)_",
        r"gh[pousr]_[A-Za-z0-9]{20}",
        r"github_pat_",
        r"(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}",
        r"xox[abposr]-",
        r"AIza[0-9A-Za-z_-]{35}",
        r"ya29\.[0-9A-Za-z_-]{20}",
        r"glpat-[0-9A-Za-z_-]{20}",
        r"npm_[0-9A-Za-z]{36}",
        r"hf_[0-9A-Za-z]{30}",
        r"pypi-AgE",
        r"dop_v1_[0-9a-f]{64}",
        r"xapp-",
        r"hooks\.slack\.com/services/",
        r"SG\.[0-9A-Za-z_-]{16}",
        r"eyJ[A-Za-z0-9_-]{5,}\.eyJ",
        # key=value, "key": value, --key value: a secret-like key name right before : or = or a space
        r"(?i:pass(?:_?word|wd|phrase)|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key"
        r"|credentials?)\\*[\x22']?(?:[:=]|" + _SPACE + ")",
    )
)


_SCREEN_RE = re.compile(SCREEN)


def might_hold_secret(text: str) -> bool:
    """The screen in Python, for one text (a frame screens with :func:`flagged`): False means nothing to
    redact."""
    if _SCREEN_RE.search(text):
        return True
    return any(literal in text for literal in _literals())


def _literals() -> list[str]:
    """Registered secrets as they can appear in text (raw, and JSON-escaped)."""
    out: set[str] = set()
    for secret in registered_secrets():
        out.add(secret)
        out.add(json.dumps(secret)[1:-1])
    return sorted(out)


def _screen(expr: pl.Expr) -> pl.Expr:
    hit = expr.str.contains(SCREEN)
    literals = _literals()
    if literals:
        hit = hit | expr.str.contains_any(literals)
    return hit.fill_null(False)


def flagged(column: pl.Series) -> pl.Series:
    """Which cells the screen says may hold a secret (nulls: False)."""
    return pl.select(_screen(pl.lit(column))).to_series()


def redact_json_text(text: str) -> str:
    """Redact JSON text value by value and write it back; text that is not JSON is redacted as text."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return redact(text)
    cleaned = redact_value(value)
    if cleaned == value:
        return text
    return json.dumps(cleaned, ensure_ascii=False)


def redact_series(column: pl.Series, *, is_json: bool = False) -> pl.Series:
    """``column`` with every flagged cell redacted (a String column; others come back unchanged)."""
    if column.dtype != pl.String:
        return column
    frame = redact_frame(column.to_frame(), [column.name] if is_json else [])
    return frame.to_series()


def redact_frame(
    frame: pl.DataFrame,
    json_columns: Iterable[str] = (),
    skip: Iterable[str] = (),
    *,
    distinct: Iterable[str] = (),
    parts: tuple[str, Iterable[str], pl.Series] | None = None,
) -> pl.DataFrame:
    """Every String column of ``frame`` but ``skip`` redacted; ``json_columns`` hold JSON text.

    The screen runs over all columns in one ``select`` (polars spreads the columns over its
    threads); Python only sees the flagged cells. Two ways to screen less, each with the very
    same result (the screen looks at one value at a time and has no anchors):

    * ``distinct``: columns whose values repeat down the rows (an attempt's ids, title, model on
      every one of its events) are screened once per distinct value;
    * ``parts``: ``(whole, names, verbatim)`` — on the rows ``verbatim`` marks, each named
      column's text is a piece of ``whole``'s (a payload field of ``data`` read from a line with no
      escape in it), so the screen cannot flag a piece where it does not flag the whole: those
      columns are screened only on the other rows and where ``whole`` is flagged.
    """
    as_json, skipped = set(json_columns), set(skip)
    names = [n for n, dtype in frame.schema.items() if dtype == pl.String and n not in skipped]
    if not names or frame.is_empty():
        return frame
    whole, pieces, verbatim = parts if parts is not None else ("", (), pl.Series(dtype=pl.Boolean))
    piece_names = [n for n in pieces if n in names and n != whole] if whole in names else []
    by_value = [n for n in distinct if n in names and n not in piece_names and n != whole]
    by_row = [n for n in names if n not in piece_names and n not in by_value]
    flagged_rows: dict[str, pl.Series] = {}  # column -> positions of the cells to redact
    if by_row:
        hits = frame.select(_screen(pl.col(n)) for n in by_row)
        flagged_rows.update((n, hits[n].arg_true()) for n in by_row)
    if by_value:  # every column's distinct values stacked and screened in one query, not one each
        found = (
            frame.select(pl.col(n).unique().implode() for n in by_value)
            .unpivot(variable_name="_column", value_name="_value")
            .explode("_value")
            .filter(_screen(pl.col("_value")))
        )
        for (name,), hits in found.partition_by("_column", as_dict=True).items():
            flagged_rows[str(name)] = frame[str(name)].is_in(hits["_value"].implode()).arg_true()
    if piece_names:
        need = (~verbatim).scatter(flagged_rows[whole], True) if flagged_rows[whole].len() else ~verbatim
        rows = need.arg_true()
        if rows.len():
            hits = frame.select(piece_names).gather(rows).select(_screen(pl.col(n)) for n in piece_names)
            flagged_rows.update((n, rows.gather(hits[n].arg_true())) for n in piece_names)
    changed = []
    for name in names:
        cells = flagged_rows.get(name)
        if cells is None or not cells.len():
            continue
        fix = redact_json_text if name in as_json else redact
        column = frame[name]
        values = [None if v is None else fix(v) for v in column.gather(cells).to_list()]
        changed.append(column.scatter(cells, pl.Series(values, dtype=pl.String)))
    return frame.with_columns(changed) if changed else frame


def redact_record(record: dict, keys: Sequence[str]) -> dict:
    """A dict with the string values under ``keys`` redacted (a quarantine record's raw and detail)."""
    for key in keys:
        value = record.get(key)
        if isinstance(value, str) and re.search(r"\S", value):
            record[key] = redact_json_text(value) if value.lstrip().startswith("{") else redact(value)
    return record
