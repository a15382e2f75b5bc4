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
SCREEN = "|".join(
    (
        r"PRIVATE KEY-----",
        r"://[^\s/:@\x22'<>]{1,256}:[^\s/@\x22'<>]{1,512}@",  # user:password@ in a URL
        r"(?i:authorization)",
        r"(?i:bearer)(?:\s|\\[nrt])",  # also inside JSON text, where a newline is written \n
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
        r"|credentials?)\\?[\x22']?\s*[:=\s]",
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
    frame: pl.DataFrame, json_columns: Iterable[str] = (), skip: Iterable[str] = ()
) -> pl.DataFrame:
    """Every String column of ``frame`` but ``skip`` redacted; ``json_columns`` hold JSON text.

    The screen runs over all columns in one ``select`` (polars spreads the columns over its
    threads); Python only sees the flagged cells."""
    as_json, skipped = set(json_columns), set(skip)
    names = [n for n, dtype in frame.schema.items() if dtype == pl.String and n not in skipped]
    if not names or frame.is_empty():
        return frame
    hits = frame.select(_screen(pl.col(n)) for n in names)
    changed = []
    for name in names:
        hit = hits[name]
        if not hit.any():
            continue
        rows = hit.arg_true()
        fix = redact_json_text if name in as_json else redact
        column = frame[name]
        values = [None if v is None else fix(v) for v in column.gather(rows).to_list()]
        changed.append(column.scatter(rows, pl.Series(values, dtype=pl.String)))
    return frame.with_columns(changed) if changed else frame


def redact_record(record: dict, keys: Sequence[str]) -> dict:
    """A dict with the string values under ``keys`` redacted (a quarantine record's raw and detail)."""
    for key in keys:
        value = record.get(key)
        if isinstance(value, str) and re.search(r"\S", value):
            record[key] = redact_json_text(value) if value.lstrip().startswith("{") else redact(value)
    return record
