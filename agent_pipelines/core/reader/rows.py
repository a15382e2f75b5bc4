"""From raw JSON text to typed rows: timestamps, the flattened payload, the contract's rules in
polars, and the cleaned table's columns."""

from __future__ import annotations

import io
import json

import polars as pl

from agent_pipelines.core.contract import (
    CLEANED_SCHEMA,
    INT_FIELDS,
    MAX_YEAR,
    MIN_YEAR,
    PAYLOAD_BOOL_FIELDS,
    PAYLOAD_COLUMNS,
    PAYLOAD_FLOAT_FIELDS,
    PAYLOAD_INT_FIELDS,
    PAYLOAD_OBJECT_FIELDS,
    STRING_FIELDS,
    alias_exprs,
    timestamp_expr,
    violation_exprs,
)
from agent_pipelines.core.reader.decode import as_text
from agent_pipelines.core.reader.identity import event_hash
from agent_pipelines.core.reader.result import PAYLOAD_SCHEMA, RAW_SCHEMA
from agent_pipelines.core.reader.screens import duplicate_suspects, line_measures, rules_broken

_CANONICAL_TS = "%Y-%m-%dT%H:%M:%S%.fZ"  # what our logger and the original one write


# What our logger and the original one write: milliseconds, UTC. Seconds stop at 59: a leap second
# (``23:59:60``) is read by polars as the next minute, and refused by Python.
_MS_TIMESTAMP = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:[0-5]\d\.\d{3}Z$"
_ISO_Z_TIMESTAMP = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:[0-5]\d(\.\d{1,9})?Z$"


def _timestamp_parts(text: pl.Expr) -> list[pl.Expr]:
    """The pieces of the usual timestamps (:data:`_MS_TIMESTAMP`), which :func:`_parse_timestamps`
    adds up: the day (a block holds few distinct days, each parsed once) and the time of day as
    integers — parsing the whole text per row costs polars several times more. ``_t_day`` is null
    for any other text."""
    usual = text.str.contains(_MS_TIMESTAMP)
    day = text.str.head(10).str.to_date("%Y-%m-%d", strict=False)

    def piece(start: int, length: int) -> pl.Expr:
        return text.str.slice(start, length).cast(pl.Int64, strict=False)

    return [
        pl.when(usual).then(day).alias("_t_day"),
        piece(11, 2).alias("_t_h"),
        piece(14, 2).alias("_t_m"),
        piece(17, 2).alias("_t_s"),
        piece(20, 3).alias("_t_ms"),
    ]


def _parse_timestamps(text: pl.Series, parts: pl.DataFrame | None = None) -> pl.Series:
    """Timestamps as UTC datetimes: the usual ones from their pieces (``parts``, when
    :func:`_timestamp_parts` ran already), then one fast format, then the full grammar."""
    if parts is None:
        parts = pl.select(_timestamp_parts(pl.lit(text)))
    micros = (
        pl.col("_t_day").cast(pl.Datetime("us")).cast(pl.Int64)
        + ((pl.col("_t_h") * 60 + pl.col("_t_m")) * 60 + pl.col("_t_s")) * 1_000_000
        + pl.col("_t_ms") * 1_000
    )
    fast = parts.select(
        pl.when(pl.col("_t_day").is_not_null() & (pl.col("_t_h") <= 23) & (pl.col("_t_m") <= 59))
        .then(micros)
        .cast(pl.Datetime("us", "UTC"))
    ).to_series()
    retry = fast.is_null() & text.is_not_null()
    if retry.any():
        t = pl.col("t")
        others = (
            pl.DataFrame({"t": text.filter(retry)})
            .select(
                pl.coalesce(
                    pl.when(t.str.contains(_ISO_Z_TIMESTAMP)).then(
                        t.str.to_datetime(_CANONICAL_TS, time_unit="us", strict=False).dt.replace_time_zone(
                            "UTC"
                        )
                    ),
                    timestamp_expr("t"),
                )
            )
            .to_series()
        )
        fast = fast.scatter(retry.arg_true(), others)
    # polars holds year 0 and beyond 9999; Python (and so every consumer of an event) does not
    return pl.select(pl.when(fast.dt.year().is_between(MIN_YEAR, MAX_YEAR)).then(fast)).to_series()


# polars writes nested objects back as JSON text with control characters raw (JSON wants them
# escaped); this puts the escapes back, exactly as ``json.dumps`` writes them.
_CONTROL_CHARS = [chr(i) for i in range(32)]
_CONTROL_ESCAPES = [json.dumps(c)[1:-1] for c in _CONTROL_CHARS]


def _json_escaped(expr: pl.Expr) -> pl.Expr:
    return expr.str.replace_many(_CONTROL_CHARS, _CONTROL_ESCAPES)


def _payload_frame(
    data: pl.Series, schema: dict[str, pl.DataType] = PAYLOAD_SCHEMA, escapes: pl.Series | None = None
) -> tuple[pl.DataFrame, bool]:
    """Flatten ``data`` (JSON text) into one text column per payload field of ``schema`` (the
    known ones, and others seen in the block, which only the duplicate-key count reads), and
    whether polars read them from ``data``'s text (then, on a row whose line holds no escape, each
    field's text is a piece of ``data``'s: see ``redact_frame``'s ``parts``).

    polars reads string fields faithfully but writes nested objects (``outcome``, ``tool_params``)
    back without escaping backslashes; rows whose ``data`` holds an escaped backslash have those
    two fields taken from Python's reading instead. ``escapes`` (when known) marks the rows whose
    line holds a backslash: only those can hold an escape of any kind.
    """
    text = data
    if text.null_count() or not text.str.starts_with("{").all():
        text = pl.select(pl.when(text.str.starts_with("{")).then(text).otherwise(pl.lit("{}"))).to_series()
    payload = None
    try:
        joined = (text + "\n").str.join("").cast(pl.Binary).item()  # in polars: no Python string per row
        payload = pl.read_ndjson(io.BytesIO(joined), schema=schema)
        if payload.height != len(text):
            payload = None
    except Exception:
        payload = None
    if payload is None:
        rows = [
            _payload_row(value, schema) for value in text.to_list()
        ]  # rare: a string value starting with "{"
        return pl.DataFrame(rows, schema=schema), False
    if escapes is None:
        payload = payload.with_columns(*[_json_escaped(pl.col(c)) for c in PAYLOAD_OBJECT_FIELDS])
        idx = text.str.contains("\\\\", literal=True).arg_true()  # an escaped backslash
    elif not escapes.any():  # no backslash in any line: nothing to escape, nothing to redo
        return payload, True
    else:  # a backslash in data's text (an escaped one: two) is one in the line
        marked = escapes.arg_true()
        payload = payload.with_columns(
            payload[c].scatter(
                marked, payload[c].gather(marked).str.replace_many(_CONTROL_CHARS, _CONTROL_ESCAPES)
            )
            for c in PAYLOAD_OBJECT_FIELDS
        )
        idx = marked.filter(text.gather(marked).str.contains("\\\\", literal=True))
    if idx.len():
        fixed = [_payload_row(text[i], schema) for i in idx.to_list()]
        for name in PAYLOAD_OBJECT_FIELDS:
            values = pl.Series(name, [row[name] for row in fixed], dtype=pl.String)
            payload = payload.with_columns(payload[name].scatter(idx, values))
    return payload, True


def _payload_row(value: str, schema: dict[str, pl.DataType] = PAYLOAD_SCHEMA) -> dict[str, str | None]:
    try:
        obj = json.loads(value)
    except (ValueError, RecursionError):
        obj = {}
    obj = obj if isinstance(obj, dict) else {}
    return {k: as_text(obj.get(k)) for k in schema}


def _data_schema(raw: pl.DataFrame) -> dict[str, pl.DataType]:
    """The payload schema plus the other ``data`` keys a sample of the block's rows holds.

    A sample of each event type finds the keys a writer adds (a tool's ``exit_code``) without
    inferring a schema over the whole block; a row holding a key the sample missed only costs a
    judgment in Python (:func:`~agent_pipelines.core.reader.screens.duplicate_suspects` sees a colon
    it cannot account for).
    """
    schema = dict(PAYLOAD_SCHEMA)
    if "event_type" not in raw.columns:
        return schema
    rows = (  # row numbers, not the text: filtering the text would copy every object
        raw.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("_i"), "event_type")
        .filter(raw["data"].str.starts_with("{"))
        .group_by("event_type", maintain_order=True)
        .head(16)["_i"]
    )
    sample: list[str] = raw["data"].gather(rows).to_list()
    for text in sample:
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError):
            continue
        if isinstance(obj, dict):
            for key in obj:
                if key not in schema and isinstance(key, str):
                    schema[key] = pl.String()
    return schema


_INTERNAL = (
    "_line_idx",
    "_colons",
    "_brackets",
    "_backslash",
    "_judged",
)  # the reader's own columns in a raw frame


def validate(
    raw: pl.DataFrame, name: str, first_line: int, *, screen: bool = True
) -> tuple[pl.DataFrame, pl.DataFrame, list[int]]:
    """Split raw rows into typed valid events, (line, reason, detail) for the invalid ones, and the
    lines to judge again in Python (any that may hold a key twice:
    :func:`~agent_pipelines.core.reader.screens.duplicate_suspects`).

    The per-row measures (bracket and colon counts, the usual timestamps) are computed in one
    ``select``, which polars runs in parallel. With ``screen`` (always, but in the tests that
    hold it to the same verdicts as without), the rules a screen proves cannot break on a row are
    not run there: see :func:`~agent_pipelines.core.reader.screens.rules_broken`.
    """
    if "_backslash" in raw.columns:  # a control character needs an escape in the line: a backslash
        escapes = raw.select(pl.col("_backslash").fill_null(True)).to_series()
        if escapes.any():
            rows = escapes.arg_true()
            raw = raw.with_columns(
                raw["data"].scatter(
                    rows, raw["data"].gather(rows).str.replace_many(_CONTROL_CHARS, _CONTROL_ESCAPES)
                )
            )
    else:
        escapes = None
        raw = raw.with_columns(_json_escaped(pl.col("data")))
    data_schema = _data_schema(raw)
    payload, pieces = _payload_frame(raw["data"], data_schema, escapes)
    payload = payload.rename({k: f"_d.{k}" for k in data_schema})
    extras = [c for c in raw.columns if c not in RAW_SCHEMA and c not in _INTERNAL]
    frame = pl.concat([raw, payload.rechunk()], how="horizontal")  # one chunk (see ``parse_lines``)
    counted = "_colons" in frame.columns  # lines counted by _line_flags (rows judged in Python: null)
    measures = frame.select(
        *(line_measures(extras, list(data_schema)) if counted else []),
        *_timestamp_parts(pl.col("timestamp")),
    )
    frame = frame.with_columns(_ts=_parse_timestamps(frame["timestamp"], measures))
    again = duplicate_suspects(frame, measures, extras, list(data_schema)) if counted else None
    bad = rules_broken(frame, measures if counted and screen else None)
    if "_judged" in frame.columns:  # rows the contract in Python passed already
        bad = bad & ~frame["_judged"].fill_null(False)
    recheck: list[int] = []
    if again is not None and again.any():
        recheck = frame.filter(again)["_line_idx"].to_list()
        bad = bad & ~again
        drop = bad | again
    else:
        drop = bad
    _, reason, detail = violation_exprs()
    invalid = frame.filter(bad)
    if invalid.height:  # the first-rule-wins reason is a long expression: only for rows that need it
        invalid = invalid.select("_line_idx", _reason=reason, _detail=detail)
    else:
        invalid = invalid.select(
            "_line_idx", _reason=pl.lit(None, pl.String), _detail=pl.lit(None, pl.String)
        )
    frame = frame.with_columns(alias_exprs("_d."))  # the original's payload names read as ours
    typed = frame.select(
        event_hash(extras).cast(pl.String).str.zfill(20).alias("event_id"),
        pl.col("_ts").alias("timestamp"),
        pl.col("_ts").dt.date().alias("day"),
        *[pl.col(c) for c in STRING_FIELDS],
        *[pl.col(c).cast(pl.Int64, strict=False) for c in INT_FIELDS],
        *[pl.col(f"_d.{c}").alias(c) for c in PAYLOAD_COLUMNS if c not in _TYPED_PAYLOAD],
        *[pl.col(f"_d.{c}").cast(pl.Int64, strict=False).alias(c) for c in PAYLOAD_INT_FIELDS],
        *[pl.col(f"_d.{c}").cast(pl.Float64, strict=False).alias(c) for c in PAYLOAD_FLOAT_FIELDS],
        *[(pl.col(f"_d.{c}") == "true").alias(c) for c in PAYLOAD_BOOL_FIELDS],
        _data_with_extras(extras),
        pl.lit(name).alias("source_file"),
        (pl.col("_line_idx") + first_line).alias("line_number"),
        _verbatim(pieces and escapes is not None),
    )
    if drop.any():  # the few invalid rows and rows to judge again: filter the narrower typed frame
        typed = typed.filter(~drop)
    return typed.select(*CLEANED_SCHEMA, "_verbatim"), invalid, recheck


def _verbatim(pieces: bool) -> pl.Expr:
    """``_verbatim``: whether a row's payload fields are pieces of its ``data`` text — read by
    polars from that text (``pieces``), on a line without a backslash: no value of it holds an
    escape, so polars writes each one back as it was (rows judged in Python: no)."""
    if not pieces:
        return pl.lit(False).alias("_verbatim")
    return pl.col("_backslash").not_().fill_null(False).alias("_verbatim")


_TYPED_PAYLOAD = {*PAYLOAD_INT_FIELDS, *PAYLOAD_FLOAT_FIELDS, *PAYLOAD_BOOL_FIELDS}


def _data_with_extras(extras: list[str]) -> pl.Expr:
    """``data`` as JSON text; unknown top-level fields ride along under ``"_extra"`` so none is lost."""
    data = pl.col("data").fill_null("{}")
    if not extras:
        return data.alias("data")
    extra_json = _json_escaped(pl.struct(extras).struct.json_encode())
    has_extra = pl.any_horizontal([pl.col(c).is_not_null() for c in extras])
    merged = pl.concat_str(
        [
            data.str.strip_suffix("}"),
            pl.when(data == "{}").then(pl.lit("")).otherwise(pl.lit(", ")),
            pl.lit('"_extra": '),
            extra_json,
            pl.lit("}"),
        ]
    )
    return pl.when(has_extra).then(merged).otherwise(data).alias("data")
