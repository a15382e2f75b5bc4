"""The per-row screens of the reader: bracket and colon counts measured once per block and shared by
the duplicate-key count (lines that may hold a key twice are judged again in Python) and the rule
screens (rules a count proves cannot break on a row are not run there).

Split from :mod:`~agent_pipelines.core.reader.rows` (which turns raw text into typed rows and calls
these) because this is a subject of its own: what the line counts prove, and why each is exact.
"""

from __future__ import annotations

import polars as pl

from agent_pipelines.core.contract import PAYLOAD_OBJECT_FIELDS, TOP_LEVEL_FIELDS, violation_exprs
from agent_pipelines.core.contract.rules import RULES, Check, value_fails

_OBJECT_COLUMNS = tuple(f"_d.{n}" for n in PAYLOAD_OBJECT_FIELDS)


def _brackets(expr: pl.Expr) -> pl.Expr:
    return expr.str.count_matches(r"[\[{]").fill_null(0).cast(pl.Int32)


def line_measures(extras: list[str], data_keys: list[str]) -> list[pl.Expr]:
    """Bracket and colon counts of ``data``, the timestamp and the payload's object fields, and the
    keys polars read at each level: what :func:`duplicate_suspects` and :func:`rules_broken`
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


def rules_broken(frame: pl.DataFrame, measures: pl.DataFrame | None) -> pl.Series:
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
    # every by-value rule over its column's distinct values in one query (one per rule cost more
    # than the checks: a block holds a handful of distinct values)
    failing = frame.select(
        value_fails(r, pl.col(r.column).drop_nulls().unique()).any().alias(str(i))
        for i, r in enumerate(by_value)
    ).row(0)
    skipped = {id(r) for r in RULES if r.check is Check.SCALAR}
    skipped |= {id(r) for r, fails in zip(by_value, failing, strict=True) if not fails}
    bad = frame.select(violation_exprs(tuple(r for r in RULES if id(r) not in skipped))[0]).to_series()
    cleared = _cleared(measures.with_columns(frame["_brackets"]))
    if not cleared.all():
        broken = _scalar_broken(frame.filter(~cleared))
        if broken.len():
            bad = bad | frame["_line_idx"].is_in(broken.implode())
    return bad


_SCALAR_COLUMNS = tuple(dict.fromkeys(r.column for r in RULES if r.check is Check.SCALAR))


def _scalar_broken(rows: pl.DataFrame) -> pl.Series:
    """The ``_line_idx`` of ``rows`` where a value a SCALAR rule looks at is an object or a list.

    The rule's own condition (``violation_exprs`` of the SCALAR rules: an OR over some thirty
    columns) is exact but costs polars ~4 ms to plan on every block, for the few dozen rows the
    screen leaves; the columns stacked into one (``unpivot``) and one test of it say the same in
    ~0.5 ms. Every column a SCALAR rule reads holds text (the raw frame's), and a null value passes
    (its ``starts_with`` is null, which ``filter`` drops), as in the rule."""
    stacked = rows.select("_line_idx", *_SCALAR_COLUMNS).unpivot(
        index="_line_idx", on=list(_SCALAR_COLUMNS), value_name="_value"
    )
    value = pl.col("_value")
    return stacked.filter(value.str.starts_with("{") | value.str.starts_with("["))["_line_idx"].unique()


def _colons(expr: pl.Expr) -> pl.Expr:
    return expr.str.count_matches(":", literal=True).fill_null(0)


# A key as JSON text writes it (valid JSON, no escape in any key: lines with one are suspects).
_KEY_TOKEN = r'"(?:[^"\\]|\\.)*"\s*:'


def duplicate_suspects(
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
    first (``measures``: :func:`line_measures`), exact because every count it leaves out is one that
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
    """:func:`duplicate_suspects` counting every column."""
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


__all__ = ["duplicate_suspects", "line_measures", "rules_broken"]
