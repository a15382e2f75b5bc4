"""From raw JSON text to typed rows: timestamps, the flattened payload, the contract's rules in
polars, and the cleaned table's columns."""

from __future__ import annotations

import io
import json

import polars as pl

from agent_pipelines.contract import (
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
    TOP_LEVEL_FIELDS,
    timestamp_expr,
    violation_exprs,
)
from agent_pipelines.reader.decode import _as_text
from agent_pipelines.reader.result import PAYLOAD_SCHEMA, RAW_SCHEMA

_CANONICAL_TS = "%Y-%m-%dT%H:%M:%S%.fZ"  # what our logger and the original one write


def _parse_timestamps(text: pl.Series) -> pl.Series:
    """Timestamps as UTC datetimes: one fast format for the usual case, the full grammar for the rest."""
    fast = pl.select(
        pl.when(text.str.contains(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")).then(
            text.str.to_datetime(_CANONICAL_TS, time_unit="us", strict=False).dt.replace_time_zone("UTC")
        )
    ).to_series()
    retry = fast.is_null() & text.is_not_null()
    if retry.any():
        others = pl.DataFrame({"t": text.filter(retry)}).select(timestamp_expr("t")).to_series()
        fast = fast.scatter(retry.arg_true(), others)
    # polars holds year 0 and beyond 9999; Python (and so every consumer of an event) does not
    return pl.select(pl.when(fast.dt.year().is_between(MIN_YEAR, MAX_YEAR)).then(fast)).to_series()


# polars writes nested objects back as JSON text with control characters raw (JSON wants them
# escaped); this puts the escapes back, exactly as ``json.dumps`` writes them.
_CONTROL_CHARS = [chr(i) for i in range(32)]
_CONTROL_ESCAPES = [json.dumps(c)[1:-1] for c in _CONTROL_CHARS]


def _json_escaped(expr: pl.Expr) -> pl.Expr:
    return expr.str.replace_many(_CONTROL_CHARS, _CONTROL_ESCAPES)


def _payload_frame(data: pl.Series) -> pl.DataFrame:
    """Flatten ``data`` (JSON text) into one text column per known payload field.

    polars reads string fields faithfully but writes nested objects (``outcome``, ``tool_params``)
    back without escaping backslashes; rows whose ``data`` holds an escaped backslash have those
    two fields taken from Python's reading instead.
    """
    text = data.fill_null("{}")
    text = pl.select(pl.when(text.str.starts_with("{")).then(text).otherwise(pl.lit("{}"))).to_series()
    payload = None
    try:
        joined = text.str.join("\n").item() + "\n"  # in polars: no Python string per row
        payload = pl.read_ndjson(io.BytesIO(joined.encode("utf-8")), schema=PAYLOAD_SCHEMA)
        if payload.height != len(text):
            payload = None
    except Exception:
        payload = None
    if payload is None:
        rows = [_payload_row(value) for value in text.to_list()]  # rare: a string value starting with "{"
        return pl.DataFrame(rows, schema=PAYLOAD_SCHEMA)
    payload = payload.with_columns(*[_json_escaped(pl.col(c)) for c in PAYLOAD_OBJECT_FIELDS])
    redo = text.str.contains("\\\\", literal=True)  # an escaped backslash
    if redo.any():
        idx = redo.arg_true()
        fixed = [_payload_row(text[i]) for i in idx.to_list()]
        for name in PAYLOAD_OBJECT_FIELDS:
            values = pl.Series(name, [row[name] for row in fixed], dtype=pl.String)
            payload = payload.with_columns(payload[name].scatter(idx, values))
    return payload


def _payload_row(value: str) -> dict[str, str | None]:
    try:
        obj = json.loads(value)
    except (ValueError, RecursionError):
        obj = {}
    obj = obj if isinstance(obj, dict) else {}
    return {k: _as_text(obj.get(k)) for k in PAYLOAD_COLUMNS}


def _validate(raw: pl.DataFrame, name: str, first_line: int) -> tuple[pl.DataFrame, pl.DataFrame, list[int]]:
    """Split raw rows into typed valid events, (line, reason, detail) for the invalid ones, and the
    lines to judge again in Python (a known key counted more often than polars found it set)."""
    raw = raw.with_columns(_json_escaped(pl.col("data")))
    payload = _payload_frame(raw["data"]).rename({k: f"d.{k}" for k in PAYLOAD_COLUMNS})
    extras = [c for c in raw.columns if c not in RAW_SCHEMA and c not in ("_line_idx", "_keys")]
    frame = pl.concat([raw, payload], how="horizontal")
    recheck: list[int] = []
    if "_keys" in frame.columns:
        found = pl.sum_horizontal(
            [pl.col(c).is_not_null() for c in (*TOP_LEVEL_FIELDS, *(f"d.{k}" for k in PAYLOAD_COLUMNS))]
        )
        again = pl.col("_keys").is_not_null() & (pl.col("_keys") != found)
        recheck = frame.filter(again)["_line_idx"].to_list()
        if recheck:
            frame = frame.filter(~again)
    frame = frame.with_columns(_ts=_parse_timestamps(frame["timestamp"]))
    is_bad, reason, detail = violation_exprs()
    frame = frame.with_columns(_bad=is_bad)
    invalid = frame.filter(pl.col("_bad")).with_columns(_reason=reason, _detail=detail)
    valid = frame.filter(~pl.col("_bad"))
    typed = valid.select(
        pl.struct([*TOP_LEVEL_FIELDS, *extras]).hash(seed=0).cast(pl.String).str.zfill(20).alias("event_id"),
        pl.col("_ts").alias("timestamp"),
        pl.col("_ts").dt.date().alias("day"),
        *[pl.col(c) for c in STRING_FIELDS],
        *[pl.col(c).cast(pl.Int64, strict=False) for c in INT_FIELDS],
        *[pl.col(f"d.{c}").alias(c) for c in PAYLOAD_COLUMNS if c not in _TYPED_PAYLOAD],
        *[pl.col(f"d.{c}").cast(pl.Int64, strict=False).alias(c) for c in PAYLOAD_INT_FIELDS],
        *[pl.col(f"d.{c}").cast(pl.Float64, strict=False).alias(c) for c in PAYLOAD_FLOAT_FIELDS],
        *[(pl.col(f"d.{c}") == "true").alias(c) for c in PAYLOAD_BOOL_FIELDS],
        _data_with_extras(extras),
        pl.lit(name).alias("source_file"),
        (pl.col("_line_idx") + first_line).alias("line_number"),
    )
    return typed.select(list(CLEANED_SCHEMA)), invalid, recheck


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
