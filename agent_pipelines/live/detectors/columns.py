"""What the detectors read of an event: the columns, and the masked text of error messages."""

from __future__ import annotations

import polars as pl

from agent_pipelines.text.masking import mask, mask_values

COLUMNS = (
    "event_id",
    "attempt_id",
    "event_type",
    "task_id",
    "executor",
    "project_id",
    "prompt_type",
    "completion_status",
    "cost_usd",
    "duration_ms",
    "error_message",
    "error_fingerprint",
    "tool_name",
    "followup_reason",
    "tool_params",
    "new_status",
)
# What :meth:`~agent_pipelines.live.detectors.rules.Detectors._event` takes, in its order.
ROW = (
    "ts",
    *(c for c in COLUMNS if c != "tool_params"),
    "tpl",
    "prev_ts",
    "prev_id",
    "tool_key",
    "tool_n",
    "tool_first",
)


def with_detector_columns(events: pl.DataFrame) -> pl.DataFrame:
    """``events`` with every column the detectors read (a missing one, e.g. a batch in which no
    payload had it, is null)."""
    missing = [c for c in COLUMNS if c not in events.columns]
    return events.with_columns(pl.lit(None, pl.String()).alias(c) for c in missing) if missing else events


# Up to this many distinct error messages in a batch (a live run's usual few), each is masked in
# Python (~0.2 ms each, the patterns compiled once per process); more take the batch path, which
# compiles its Rust regexes per call (~20 ms) and then masks thousands of messages in parallel.
FEW_MESSAGES = 64


def masked_templates(messages: pl.Series) -> pl.DataFrame:
    """``error_message, tpl``: the masked text of each distinct message (the same text either way:
    :func:`~agent_pipelines.text.masking.mask` and :func:`~agent_pipelines.text.masking.mask_values`
    agree)."""
    distinct = messages.unique()
    if distinct.len() <= FEW_MESSAGES:
        masked = [mask(m or "") for m in distinct.to_list()]
        return pl.DataFrame({"error_message": distinct, "tpl": pl.Series(masked, dtype=pl.String)})
    return mask_values(distinct, "tpl").select("error_message", "tpl")


def detector_frame(events: pl.DataFrame) -> pl.DataFrame:
    """Only what the detectors and the seen-ids window read (``timestamp`` and :data:`COLUMNS`):
    deduplicating and sorting a batch is cheaper on these 16 columns than on the reader's 40."""
    return with_detector_columns(events).select("timestamp", *COLUMNS)
