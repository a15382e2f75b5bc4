"""The one-query gate (``contract.gate.passes``) never says "passes" where pandera refuses.

Every rule of ``CleanedEvent`` (each column's dtype, nullability, uniqueness and checks, each
dataframe check, the strict column set) is broken in turn on a frame the reader made, and the gate
must refuse each one pandera refuses; a model using a feature the gate does not translate is
refused loudly. hypothesis breaks several values at once.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandera.errors
import pandera.polars as pa
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_pipelines.core import contract, reader
from agent_pipelines.core.contract.gate import UnsupportedSchema, passes
from agent_pipelines.core.logger import build_event
from agent_pipelines.core.writer import serialize

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SCHEMA = contract.CleanedEvent.to_schema()


def _frame() -> pl.DataFrame:
    events: list[tuple[str, dict[str, Any]]] = [
        ("session_start", {"prompt_type": "initial", "prompt": "go"}),
        ("tool_call", {"tool_name": "Bash", "tool_params": {"command": "ls"}}),
        ("tool_result", {"tool_name": "Bash", "success": True, "duration_ms": 12}),
        ("error", {"error_message": "fatal: boom", "error_category": "git"}),
        ("status_change", {"old_status": "inprogress", "new_status": "inreview"}),
        ("session_end", {"completion_status": "success", "duration_ms": 900, "total_tokens": 10,
                         "cost_usd": 0.5}),
    ]  # fmt: skip
    context = {
        "task_id": "t-1",
        "executor": "CODEX",
        "model": "gpt-5",
        "commits_ahead": 1,
        "commits_behind": 0,
    }
    lines = b"".join(
        (
            serialize(build_event(kind, "ve-a", data, context, timestamp=T0 + timedelta(seconds=i))) + "\n"
        ).encode()
        for i, (kind, data) in enumerate(events)
    )
    result = reader.read_bytes(lines, source_name="gate.jsonl")
    assert result.quarantine.is_empty()
    return reader.dedupe(result.events)


def _gate(frame: pl.DataFrame) -> bool:
    """The gate's verdict on ``frame``, the same on the frame, on it as a LazyFrame and on a scan
    of it stored as Parquet (how the contract check reads stored days)."""
    verdict = passes(frame, contract.CleanedEvent)
    assert passes(frame.lazy(), contract.CleanedEvent) == verdict
    with tempfile.TemporaryDirectory() as folder:
        stored = Path(folder) / "day.parquet"
        frame.write_parquet(stored)
        assert passes(pl.scan_parquet(stored), contract.CleanedEvent) == verdict
    return verdict


def _pandera_passes(frame: pl.DataFrame) -> bool:
    try:
        contract.CleanedEvent.validate(frame, lazy=True)
    except (pandera.errors.SchemaErrors, pandera.errors.SchemaError):
        return False
    return True


def _broken(column: str, check: str | None, frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with row 0 of ``column`` breaking ``check`` (``None``: the column must not be null)."""
    dtype = frame.schema[column]
    if check is None:
        return frame.with_columns(
            pl.when(pl.int_range(pl.len()) == 0).then(None).otherwise(pl.col(column)).alias(column)
        )
    value: Any = {
        "str_length": "x" * 300 if column == "attempt_id" else "short",
        "isin": "not-a-listed-value",
        "greater_than_or_equal_to": -1,
    }[check]
    if dtype == pl.Float64:
        value = -0.5
    return frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.lit(value, dtype=dtype))
        .otherwise(pl.col(column))
        .alias(column)
    )


def test_a_frame_the_reader_made_passes_both() -> None:
    frame = _frame()
    assert _pandera_passes(frame)
    assert _gate(frame)


RULES = [(name, None) for name, col in SCHEMA.columns.items() if not col.nullable] + [
    (name, check.name) for name, col in SCHEMA.columns.items() for check in col.checks
]


@pytest.mark.parametrize(("column", "check"), RULES, ids=[f"{c}-{k or 'not_null'}" for c, k in RULES])
def test_each_column_rule_broken_is_refused(column: str, check: str | None) -> None:
    frame = _broken(column, check, _frame())
    assert not _pandera_passes(frame)
    assert not _gate(frame)


def test_dataframe_checks_duplicates_dtypes_and_columns_are_refused() -> None:
    frame = _frame()
    no_status = frame.with_columns(
        pl.when(pl.col("event_type") == "session_end")
        .then(None)
        .otherwise(pl.col("completion_status"))
        .alias("completion_status")
    )
    no_message = frame.with_columns(
        pl.when(pl.col("event_type") == "error")
        .then(None)
        .otherwise(pl.col("error_message"))
        .alias("error_message")
    )
    nan_cost = frame.with_columns(pl.lit(float("nan")).alias("cost_usd"))
    for bad in (
        no_status,
        no_message,
        pl.concat([frame, frame.head(1)]),  # event_id unique
        frame.with_columns(pl.col("elapsed_ms").cast(pl.Int32)),  # dtype
        frame.with_columns(pl.col("timestamp").dt.replace_time_zone(None)),
        frame.drop("prompt"),  # a column missing
        frame.with_columns(pl.lit(1).alias("extra")),  # strict: no extra columns
    ):
        assert not _pandera_passes(bad)
        assert not _gate(bad)
    assert _pandera_passes(nan_cost) == _gate(nan_cost)  # polars' own NaN order, both


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(RULES), min_size=1, max_size=4, unique=True), st.integers(0, 5))
def test_several_rules_broken_anywhere_are_refused(rules: list[tuple[str, str | None]], row: int) -> None:
    frame = _frame()
    shifted = pl.concat([frame.slice(row), frame.slice(0, row)])
    for column, check in rules:
        shifted = _broken(column, check, shifted)
    assert not _pandera_passes(shifted)
    assert not _gate(shifted)


def test_a_model_the_gate_cannot_translate_is_refused_loudly() -> None:
    class ElementWise(pa.DataFrameModel):
        x: int = pa.Field()

        @pa.check("x", element_wise=True)
        @classmethod
        def small(cls, value: int) -> bool:
            return value < 5

    class Coerced(pa.DataFrameModel):
        x: int = pa.Field(coerce=True)

    for model in (ElementWise, Coerced):
        with pytest.raises(UnsupportedSchema):
            passes(pl.DataFrame({"x": [1]}), model)


def test_uniqueness_is_decided_by_the_values_where_the_numbers_cannot_tell() -> None:
    """Ids are counted as numbers when they all are; texts that are not numbers, or two texts that
    spell one number, are counted as texts: the gate agrees with pandera on each."""

    class Ids(pa.DataFrameModel):
        id: str = pa.Field(unique=True)

    for ids, unique in (
        (["00000000000000000007", "00000000000000000003"], True),
        (["00000000000000000007", "00000000000000000007"], False),
        (["1", "01", "001"], True),  # one number, three texts
        (["a", "b", "7"], True),
        (["a", "b", "a"], False),
    ):
        frame = pl.DataFrame({"id": ids})
        try:
            Ids.validate(frame, lazy=True)
            pandera_passes = True
        except pandera.errors.SchemaErrors:
            pandera_passes = False
        assert pandera_passes == unique, ids
        assert passes(frame, Ids) == unique and passes(frame.lazy(), Ids) == unique, ids
