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
    TOP_LEVEL_FIELDS,
    alias_exprs,
    timestamp_expr,
    violation_exprs,
)
from agent_pipelines.core.contract.rules import RULES, Check, value_fails
from agent_pipelines.core.reader.decode import as_text
from agent_pipelines.core.reader.identity import event_hash
from agent_pipelines.core.reader.result import PAYLOAD_SCHEMA, RAW_SCHEMA

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
) -> pl.DataFrame:
    """Flatten ``data`` (JSON text) into one text column per payload field of ``schema`` (the
    known ones, and others seen in the block, which only the duplicate-key count reads).

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
        return pl.DataFrame(rows, schema=schema)
    if escapes is None:
        payload = payload.with_columns(*[_json_escaped(pl.col(c)) for c in PAYLOAD_OBJECT_FIELDS])
        idx = text.str.contains("\\\\", literal=True).arg_true()  # an escaped backslash
    elif not escapes.any():  # no backslash in any line: nothing to escape, nothing to redo
        return payload
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
    return payload


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
    judgment in Python (:func:`_duplicate_suspects` sees a colon it cannot account for).
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
    lines to judge again in Python (any that may hold a key twice: :func:`_duplicate_suspects`).

    The per-row measures (bracket and colon counts, the usual timestamps) are computed in one
    ``select``, which polars runs in parallel. With ``screen`` (always, but in the tests that
    hold it to the same verdicts as without), the rules a screen proves cannot break on a row are
    not run there: see :func:`_rules_broken`.
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
    payload = _payload_frame(raw["data"], data_schema, escapes).rename({k: f"_d.{k}" for k in data_schema})
    extras = [c for c in raw.columns if c not in RAW_SCHEMA and c not in _INTERNAL]
    frame = pl.concat([raw, payload], how="horizontal")
    counted = "_colons" in frame.columns  # lines counted by _line_flags (rows judged in Python: null)
    measures = frame.select(
        *(_measures(extras, list(data_schema)) if counted else []),
        *_timestamp_parts(pl.col("timestamp")),
    )
    frame = frame.with_columns(_ts=_parse_timestamps(frame["timestamp"], measures))
    again = _duplicate_suspects(frame, measures, extras, list(data_schema)) if counted else None
    bad = _rules_broken(frame, measures if counted and screen else None)
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
    )
    if drop.any():  # the few invalid rows and rows to judge again: filter the narrower typed frame
        typed = typed.filter(~drop)
    return typed.select(list(CLEANED_SCHEMA)), invalid, recheck


# --------------------------------------------------------------------------------------------
# Per-row measures, computed once and shared by the duplicate-key count and the rule screens
# --------------------------------------------------------------------------------------------

_OBJECT_COLUMNS = tuple(f"_d.{n}" for n in PAYLOAD_OBJECT_FIELDS)


def _brackets(expr: pl.Expr) -> pl.Expr:
    return expr.str.count_matches(r"[\[{]").fill_null(0).cast(pl.Int32)


def _measures(extras: list[str], data_keys: list[str]) -> list[pl.Expr]:
    """Bracket and colon counts of ``data``, the timestamp and the payload's object fields, and the
    keys polars read at each level: what :func:`_duplicate_suspects` and :func:`_rules_broken`
    compare the line's own counts (``_colons``, ``_brackets``) with."""
    return [
        _brackets(pl.col("data")).alias("_br_data"),
        pl.sum_horizontal([_brackets(pl.col(c)) for c in _OBJECT_COLUMNS]).alias("_br_objects"),
        _colons(pl.col("data")).alias("_co_data"),
        _colons(pl.col("timestamp")).alias("_co_ts"),
        *[_colons(pl.col(c)).alias(f"_co{c}") for c in _OBJECT_COLUMNS],
        _keys_read([*TOP_LEVEL_FIELDS, *extras]).alias("_keys_top"),
        _keys_read([f"_d.{k}" for k in data_keys]).alias("_keys_data"),
    ]


def _cleared(measures: pl.DataFrame) -> pl.Series:
    """Rows where no value but ``data`` and the payload's object fields holds a bracket, so none
    is an object or a list: the line's brackets (outside those of suspect lines, every one is
    structure or text, never an escape) are its own ``{`` plus ``data``'s, and ``data``'s are its own
    ``{`` plus its object fields'. Every value polars read is a part of the line (of ``data`` for a
    payload field) apart from the others, so these counts can only be equal when the rest hold
    none. A ``data`` that is not an object gives no payload field at all."""
    return measures.select(
        pl.col("_brackets").is_not_null()
        & (pl.col("_brackets") == 1 + pl.col("_br_data"))
        & (pl.col("_br_data") <= 1 + pl.col("_br_objects"))
    ).to_series()


# The checks run over a column's distinct values instead of its rows: ids and enumerations, which
# repeat on every event of an attempt, so a block holds few of them.
_BY_VALUE = (Check.SAFE_ID, Check.ONE_OF)


def _rules_broken(frame: pl.DataFrame, measures: pl.DataFrame | None) -> pl.Series:
    """Whether each row breaks a rule: :func:`~agent_pipelines.core.contract.violation_exprs`' OR of
    every rule, with two screens when the line counts are there (``measures``), both exact:

    * SCALAR (a value must not be an object or a list) runs only on the rows :func:`_cleared` cannot
      clear: on the others no value it looks at holds a bracket;
    * SAFE_ID and ONE_OF look at the value alone: they run over each column's distinct values, and
      over the rows only when one of those fails (a bad id, an unknown event type).
    """
    if measures is None:
        return frame.select(violation_exprs()[0]).to_series()
    by_value = [r for r in RULES if r.check in _BY_VALUE]
    columns = sorted({r.column for r in by_value})
    distinct = dict(
        zip(
            columns,
            frame.select(pl.col(c).drop_nulls().unique().implode() for c in columns).row(0),
            strict=True,
        )
    )
    failing = [
        pl.DataFrame({r.column: distinct[r.column]}, schema={r.column: pl.String})
        .select(value_fails(r, pl.col(r.column)).any())
        .item()
        for r in by_value
    ]
    skipped = {id(r) for r in RULES if r.check is Check.SCALAR}
    skipped |= {id(r) for r, fails in zip(by_value, failing, strict=True) if not fails}
    bad = frame.select(violation_exprs(tuple(r for r in RULES if id(r) not in skipped))[0]).to_series()
    cleared = _cleared(measures.with_columns(frame["_brackets"]))
    if not cleared.all():
        scalar = tuple(r for r in RULES if r.check is Check.SCALAR)
        rest = frame.select("_line_idx", *{r.column for r in scalar}).filter(~cleared)
        broken = rest.filter(violation_exprs(scalar)[0])["_line_idx"]
        if broken.len():
            bad = bad | frame["_line_idx"].is_in(broken.implode())
    return bad


def _colons(expr: pl.Expr) -> pl.Expr:
    return expr.str.count_matches(":", literal=True).fill_null(0)


# A key as JSON text writes it (valid JSON, no escape in any key: lines with one are suspects).
_KEY_TOKEN = r'"(?:[^"\\]|\\.)*"\s*:'


def _duplicate_suspects(
    frame: pl.DataFrame, measures: pl.DataFrame, extras: list[str], data_keys: list[str]
) -> pl.Series:
    """Rows whose line may hold a key twice in one object, at any depth: Python judges them.

    polars keeps the first of two equal keys where Python, jq and JavaScript keep the last, so a
    line with a repeated key is refused, never guessed. Counting colons finds every such line
    without tokenizing millions of lines: in valid JSON a colon is either a key's (one per key) or
    inside a string, and polars hands back every value it read with its strings' colons, objects
    and lists as JSON text with theirs. So a line's colons equal, for the top-level keys polars
    read (non-null), one each plus their values' colons — unless a key was there that polars did
    not read (a repeat, a null, a key outside the schema), and then the line is judged again. The
    same count one level down checks ``data`` against its payload fields. Objects below that
    (``tool_params``, ``outcome``, any object value) come back as JSON text with every repeat kept:
    those holding two keys or more are tokenized, and any key seen twice sends the line to Python.
    Only the rare escaped colon (``\\u003a``) could hide a colon: such lines are suspects already.

    Counting every column of every row would cost as much as a parse, so a cheap screen comes
    first (``measures``: :func:`_measures`), exact because every count it leaves out is one that
    cannot be negative: the colons of the timestamp, of ``data`` and of its two object fields are
    all an ordinary line has; the brackets of ``data`` and of the line (counted for the depth bound
    already) say whether any other value holds an object. Rows the top-level screen cannot clear
    get the full count of every column. On the others no top-level value but ``data`` and the
    timestamp holds a colon or a bracket, so only the payload is left to look at: its fields are
    counted, and those holding two colons or more tokenized, only on rows where ``data``'s colons
    or brackets are not all its object fields' or one of those holds two keys or more.
    """
    top = [*TOP_LEVEL_FIELDS, *extras]
    payload = [f"_d.{k}" for k in data_keys]
    m = measures.with_columns(frame["_colons"], frame["_brackets"])
    lines = pl.col("_colons").is_not_null()
    objects = [pl.col(f"_co{c}") for c in _OBJECT_COLUMNS]
    flags = m.select(
        top=lines
        & (
            (pl.col("_colons") != pl.col("_keys_top") + pl.col("_co_data") + pl.col("_co_ts"))
            | (pl.col("_brackets") > 1 + pl.col("_br_data"))
        ),
        payload=lines
        & (
            (pl.col("_co_data") != pl.col("_keys_data") + pl.sum_horizontal(objects))
            | (pl.col("_br_data") > 1 + pl.col("_br_objects"))
            | pl.any_horizontal([c >= 2 for c in objects])
        ),
    )
    top_rows, payload_rows = flags["top"], flags["payload"] & ~flags["top"]
    again = pl.repeat(False, frame.height, eager=True)
    if top_rows.any():  # a top-level value holds a colon or a bracket: count every column
        maybe = frame.filter(top_rows)
        flagged = maybe.filter(_counted_suspects(maybe, top, payload))["_line_idx"]
        again = frame["_line_idx"].is_in(flagged.implode())
    if payload_rows.any():  # the same one level down, for the rows the top-level count clears
        rows = frame.select("_line_idx", "data", *payload).filter(payload_rows)
        short = rows.filter(
            _colons(pl.col("data"))
            != _keys_read(payload) + pl.sum_horizontal(_colons(pl.col(c)) for c in payload)
        )["_line_idx"]
        values = rows.unpivot(index="_line_idx", on=payload, value_name="_value").filter(
            pl.col("_value").str.count_matches(":", literal=True) >= 2
        )
        flagged = pl.concat([short, _repeated_keys(values)])
        if flagged.len():
            again = again | frame["_line_idx"].is_in(flagged.implode())
    return again


def _repeated_keys(values: pl.DataFrame) -> pl.Series:
    """The ``_line_idx`` of rows whose ``_value`` (JSON text) is an object or list holding a key
    twice in one object, at any depth the text reaches: its key tokens are not all distinct."""
    keys = pl.col("_value").str.extract_all(_KEY_TOKEN)
    objects = values.filter(pl.col("_value").str.starts_with("{") | pl.col("_value").str.starts_with("["))
    return objects.filter(keys.list.n_unique() < keys.list.len())["_line_idx"]


def _keys_read(names: list[str]) -> pl.Expr:
    """The colons the keys polars read bring: one each, and any in the key's name."""
    named = [
        pl.col(c).is_not_null().cast(pl.Int32) * c.removeprefix("_d.").count(":") for c in names if ":" in c
    ]
    return pl.sum_horizontal([pl.col(c).is_not_null() for c in names] + named)


def _counted_suspects(frame: pl.DataFrame, top: list[str], payload: list[str]) -> pl.Series:
    """:func:`_duplicate_suspects` counting every column."""
    columns = [*top, *payload]
    colons = frame.select(*[_colons(pl.col(c)).alias(f"_n{i}") for i, c in enumerate(columns)])

    def read(names: list[str]) -> pl.Expr:  # keys polars read, and their values' colons
        return _keys_read(names) + pl.sum_horizontal([colons[f"_n{columns.index(c)}"] for c in names])

    again = frame.select(
        (pl.col("_colons").is_not_null() & (pl.col("_colons") != read(top)))
        | (_colons(pl.col("data")) != read(payload))
    ).to_series()
    nested = [i for i, c in enumerate(columns) if c != "data"]
    # a value with two colons or more may be an object holding a key twice; a timestamp always has
    # two, so it is looked at only when it is an object (or a list)
    stamp = pl.col("timestamp").str.starts_with("{") | pl.col("timestamp").str.starts_with("[")
    many = frame.filter(
        pl.any_horizontal(
            [colons[f"_n{i}"] >= 2 for i in nested if columns[i] != "timestamp"] + [stamp.fill_null(False)]
        )
    )["_line_idx"]
    if many.len():  # rows where some value holds two colons or more: is it an object with a key twice?
        rows = frame.filter(pl.col("_line_idx").is_in(many.implode()))
        values = pl.concat(
            [rows.select(pl.col("_line_idx"), pl.col(columns[i]).alias("_value")) for i in nested]
        )
        repeated = _repeated_keys(values)
        if repeated.len():
            again = again | frame["_line_idx"].is_in(repeated.implode())
    return again


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
