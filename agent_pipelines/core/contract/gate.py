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


def passes(frame: pl.DataFrame, model: type[pa.DataFrameModel]) -> bool:
    """Whether ``model.validate(frame)`` would pass, in one query. ``False`` means "ask pandera"
    (a check fails, or a column is missing, extra or of another dtype)."""
    schema = _schema(model)
    columns = schema.columns
    if schema.strict and set(frame.columns) != set(columns):
        return False
    if any(name not in frame.schema for name in columns):
        return False
    if any(frame.schema[name] != _expected_dtype(column) for name, column in columns.items()):
        return False
    lazy = frame.lazy()
    parts: list[pl.LazyFrame] = []
    plain: list[pl.Expr] = []
    for name, column in columns.items():
        if not column.nullable:
            ok = pl.col(name).is_not_null()
            if frame.schema[name].is_float():
                ok = ok & pl.col(name).is_not_nan()
            plain.append(ok)
        if column.unique:
            plain.append(pl.col(name).is_duplicated().not_())
        parts.extend(_check_frame(check, lazy, name) for check in column.checks)
    parts.extend(_check_frame(check, lazy, "*") for check in schema.checks)
    if plain:
        parts.append(lazy.select(pl.all_horizontal(plain).alias("ok")))
    if not parts:
        return True
    renamed = [part.rename({"ok": f"ok{i}"}) for i, part in enumerate(parts)]
    result = pl.concat(renamed, how="horizontal").select(pl.all().all()).collect()
    return bool(all(result.row(0))) if result.height else True
