"""The cleaned events' polars schema: what the reader produces and every asset downstream reads.

Apart from the pandera model (:mod:`~agent_pipelines.core.contract.schemas`) so that reading logs does
not import pandera (~0.1 s a process: every CLI command, every import worker)."""

from __future__ import annotations

import polars as pl

from agent_pipelines.core.contract.fields import INT_FIELDS, PAYLOAD_COLUMNS, STRING_FIELDS

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
