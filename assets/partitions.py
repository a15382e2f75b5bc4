"""The daily and weekly partitions definitions (Dagster wiring); the days, keys and their
registration live in :mod:`agent_pipelines.core.partitions` (see its docstring for why they are dynamic)."""

from __future__ import annotations

import dagster as dg

from agent_pipelines.core.partitions import (
    LOG_DAYS,
    LOG_WEEKS,
    day_ranges,
    legacy_file_days,
    log_days,
    previous_week_key,
    range_tags,
    week_days,
    week_key,
)
from agent_pipelines.orchestration.partitions import missing_keys, register_partitions

daily_partitions = dg.DynamicPartitionsDefinition(name=LOG_DAYS)
weekly_partitions = dg.DynamicPartitionsDefinition(name=LOG_WEEKS)

__all__ = [
    "LOG_DAYS",
    "LOG_WEEKS",
    "daily_partitions",
    "day_ranges",
    "legacy_file_days",
    "log_days",
    "missing_keys",
    "previous_week_key",
    "range_tags",
    "register_partitions",
    "week_days",
    "week_key",
    "weekly_partitions",
]
