"""The cleaned events' schemas: the pandera model (the assets' check and the rotation's last gate)
and the polars schema (what the reader produces and every asset downstream reads)."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl
from pandera.engines.polars_engine import DateTime

from agent_pipelines.core.contract.fields import (
    COMPLETION_STATUSES,
    EVENT_TYPES,
    INT_FIELDS,
    MAX_ID_CHARS,
    PAYLOAD_COLUMNS,
    PROMPT_TYPES,
    STRING_FIELDS,
)


class CleanedEvent(pa.DataFrameModel):
    """A row of the cleaned events table: typed, UTC, payload flattened, one row per distinct line."""

    event_id: str = pa.Field(nullable=False, unique=True, str_length={"min_value": 20, "max_value": 20})
    timestamp: DateTime = pa.Field(nullable=False, dtype_kwargs={"time_unit": "us", "time_zone": "UTC"})
    day: pl.Date = pa.Field(nullable=False)
    attempt_id: str = pa.Field(nullable=False, str_length={"min_value": 1, "max_value": MAX_ID_CHARS})
    event_type: str = pa.Field(nullable=False, isin=list(EVENT_TYPES))
    session_id: str = pa.Field(nullable=True)
    task_id: str = pa.Field(nullable=True)
    task_title: str = pa.Field(nullable=True)
    task_description: str = pa.Field(nullable=True)
    project_id: str = pa.Field(nullable=True)
    executor: str = pa.Field(nullable=True)
    executor_variant: str = pa.Field(nullable=True)
    model: str = pa.Field(nullable=True)
    branch: str = pa.Field(nullable=True)
    base_branch: str = pa.Field(nullable=True)
    commits_ahead: pl.Int64 = pa.Field(nullable=True, ge=0)
    commits_behind: pl.Int64 = pa.Field(nullable=True, ge=0)
    elapsed_ms: pl.Int64 = pa.Field(nullable=True, ge=0)
    prompt_type: str = pa.Field(nullable=True, isin=list(PROMPT_TYPES))
    prompt: str = pa.Field(nullable=True)
    followup_reason: str = pa.Field(nullable=True)
    completion_status: str = pa.Field(nullable=True, isin=list(COMPLETION_STATUSES))
    duration_ms: pl.Int64 = pa.Field(nullable=True, ge=0)
    total_tokens: pl.Int64 = pa.Field(nullable=True, ge=0)
    cost_usd: pl.Float64 = pa.Field(nullable=True, ge=0)
    outcome: str = pa.Field(nullable=True)
    error_message: str = pa.Field(nullable=True)
    error_fingerprint: str = pa.Field(nullable=True)
    error_category: str = pa.Field(nullable=True)
    stack_trace: str = pa.Field(nullable=True)
    message: str = pa.Field(nullable=True)
    reason: str = pa.Field(nullable=True)
    tool_name: str = pa.Field(nullable=True)
    tool_params: str = pa.Field(nullable=True)
    success: pl.Boolean = pa.Field(nullable=True)
    old_status: str = pa.Field(nullable=True)
    new_status: str = pa.Field(nullable=True)
    data: str = pa.Field(nullable=False)
    source_file: str = pa.Field(nullable=False)
    line_number: pl.Int64 = pa.Field(nullable=False, ge=1)

    class Config:
        strict = True
        ordered = False

    @pa.dataframe_check(error="session_end rows must carry a completion_status")
    @classmethod
    def session_end_has_status(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            (pl.col("event_type") != "session_end") | pl.col("completion_status").is_not_null()
        )

    @pa.dataframe_check(error="error rows must carry an error_message")
    @classmethod
    def error_has_message(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            (pl.col("event_type") != "error") | pl.col("error_message").is_not_null()
        )


CLEANED_SCHEMA: dict[str, pl.DataType] = {
    "event_id": pl.String(),
    "timestamp": pl.Datetime("us", "UTC"),
    "day": pl.Date(),
    **{name: pl.String() for name in STRING_FIELDS},
    **{name: pl.Int64() for name in INT_FIELDS},
    **PAYLOAD_COLUMNS,
    "data": pl.String(),
    "source_file": pl.String(),
    "line_number": pl.Int64(),
}
