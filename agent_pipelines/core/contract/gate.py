"""A pandera model's checks run as one polars query: the fast way to learn that a frame passes.

Why: ``CleanedEvent.validate`` runs each column's checks as its own query (about 60 per frame),
with Python between them. Where every block of a file is checked (the rotation's last gate) that
was a tenth of the CPU and, held under the GIL, slowed the threads parsing beside it. Here the
same checks are collected into one query, so a frame that passes costs one pass over it.

The checks are not rewritten by hand: they are taken from the model's own schema (its dtypes,
nullability, uniqueness, and each check's own polars function, as pandera calls them), so the
model stays the one place the rules live. Anything the translation does not know (an element-wise
or grouped check, coercion, column order, optional columns) raises :class:`UnsupportedSchema`
instead of being skipped. The answer is only ever used one way: :func:`passes` says ``True`` only
when pandera would; on ``False`` the caller runs pandera itself for its failure cases and messages.
"""

from __future__ import annotations

from functools import cache, partial
from typing import Any

import pandera.backends.polars.builtin_checks  # noqa: F401  # registers the checks' polars functions
import pandera.polars as pa
import polars as pl
from pandera.api.polars.types import PolarsData


class UnsupportedSchema(ValueError):
    """The model uses a pandera feature this module does not translate (so it cannot vouch)."""


def _expected_dtype(column: Any) -> pl.DataType:
    dtype = column.dtype.type
    return dtype() if isinstance(dtype, type) else dtype


def _check_frame(check: Any, lazy: pl.LazyFrame, key: str) -> pl.LazyFrame:
    """One check's boolean column, as pandera's polars backend computes it (nulls per ``ignore_na``)."""
    if check.element_wise or check.groupby is not None or getattr(check, "groups", None):
        raise UnsupportedSchema(f"check {check.name!r} on {key!r} is element-wise or grouped")
    out = partial(check._check_fn, **check._check_kwargs)(PolarsData(lazy, key))
    if isinstance(out, bool):
        return pl.LazyFrame({"ok": [out]})
    names = out.collect_schema().names()
    ok = pl.all_horizontal(pl.col(names)) if len(names) > 1 else pl.col(names[0])
    ok = ok | ok.is_null() if check.ignore_na else ok.fill_null(False)
    return out.select(ok.alias("ok"))


@cache
def _schema(model: type[pa.DataFrameModel]) -> Any:
    schema = model.to_schema()
    unsupported = {
        "coerce": schema.coerce,
        "ordered": schema.ordered,
        "unique": schema.unique,
        "add_missing_columns": getattr(schema, "add_missing_columns", False),
        "strict='filter'": schema.strict == "filter",
    }
    for name, column in schema.columns.items():
        unsupported[f"{name}: coerce"] = column.coerce
        unsupported[f"{name}: optional"] = not column.required
        unsupported[f"{name}: regex"] = column.regex
        unsupported[f"{name}: default"] = getattr(column, "default", None) is not None
    found = [name for name, used in unsupported.items() if used]
    if found:
        raise UnsupportedSchema(f"{model.__name__} uses {', '.join(found)}")
    return schema


def passes(frame: pl.DataFrame | pl.LazyFrame, model: type[pa.DataFrameModel]) -> bool:
    """Whether ``model.validate(frame)`` would pass, in one query. ``False`` means "ask pandera"
    (a check fails, or a column is missing, extra or of another dtype). See :func:`judge`."""
    return judge(frame, model)[0]


def judge(
    frame: pl.DataFrame | pl.LazyFrame, model: type[pa.DataFrameModel]
) -> tuple[bool, pl.DataFrame | None]:
    """:func:`passes`, and the columns it read from a LazyFrame (``None`` for a DataFrame, or when
    the schema alone answered): a caller that needs some of them (the event ids of a stored day, to
    compare across days) does not read them again.

    A LazyFrame (a scan of stored files) is judged without reading what no rule looks at: its
    column set and dtypes come from its schema, the columns a column rule reads are read once
    (the free text, the bulk of the bytes, is not), and the dataframe checks run on the scan
    itself, which reads only the columns they name."""
    schema = _schema(model)
    columns = schema.columns
    present = frame.collect_schema()
    if schema.strict and set(present) != set(columns):
        return False, None
    if any(name not in present for name in columns):
        return False, None
    if any(present[name] != _expected_dtype(column) for name, column in columns.items()):
        return False, None
    rows = frame.lazy()
    values: pl.DataFrame | None = None
    if isinstance(frame, pl.LazyFrame):  # the columns a column rule reads, read once
        checked = [n for n, c in columns.items() if not c.nullable or c.unique or c.checks]
        values = frame.select(checked).collect()
        lazy = values.lazy()
    else:
        lazy = rows
    parts: list[pl.LazyFrame] = []
    plain: list[pl.Expr] = []
    unique: list[str] = []
    for name, column in columns.items():
        if not column.nullable:
            ok = pl.col(name).is_not_null()
            if present[name].is_float():
                ok = ok & pl.col(name).is_not_nan()
            plain.append(ok.all())
        if column.unique:
            unique.append(name)
        parts.extend(_check_frame(check, lazy, name).select(pl.all().all()) for check in column.checks)
    parts.extend(_check_frame(check, rows, "*").select(pl.all().all()) for check in schema.checks)
    if plain:
        parts.append(lazy.select(pl.all_horizontal(plain).alias("ok")))
    if unique:  # last: when only it fails, the exact count decides
        parts.append(lazy.select(pl.all_horizontal([_distinct(n, present[n]) for n in unique]).alias("ok")))
    if not parts:
        return True, values
    renamed = [part.rename({"ok": f"ok{i}"}) for i, part in enumerate(parts)]
    verdicts = _row(renamed)
    if all(verdicts):
        return True, values
    if not unique or not all(verdicts[:-1]):
        return False, values
    # some id is not a number, or two ids spell one number: the values themselves decide
    exact = lazy.select(pl.all_horizontal([pl.col(n).n_unique() == pl.len() for n in unique]))
    return bool(exact.collect().item()), values


def _row(parts: list[pl.LazyFrame]) -> tuple[bool, ...]:
    result = pl.concat(parts, how="horizontal").collect()
    return tuple(bool(v) for v in result.row(0)) if result.height else (True,) * len(parts)


def _distinct(name: str, dtype: pl.DataType) -> pl.Expr:
    """Whether no two values of ``name`` are equal (pandera's ``unique``: two nulls are equal too).

    Text is first read as unsigned numbers (the reader's ids are 20 digits): distinct numbers
    can only come from distinct texts, and hashing 8-byte numbers is a few times cheaper. Where
    a value is not a number (or two texts spell one), this says ``False``, and the caller counts
    the texts themselves."""
    if dtype == pl.String:
        numbers = pl.col(name).cast(pl.UInt64, strict=False)
        return (numbers.null_count() == 0) & (numbers.n_unique() == pl.len())
    return pl.col(name).n_unique() == pl.len()
