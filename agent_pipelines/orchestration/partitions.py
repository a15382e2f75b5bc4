"""Registering the log days and weeks as Dagster's dynamic partitions (the days themselves:
core.partitions)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import dagster as dg

from agent_pipelines.core.partitions import LOG_DAYS, LOG_WEEKS, week_key


def missing_keys(instance: dg.DagsterInstance, days: Iterable[date]) -> tuple[list[str], list[str]]:
    """(day keys, week keys) for ``days`` that the instance does not have yet."""
    days = sorted(set(days))
    have_days = set(instance.get_dynamic_partitions(LOG_DAYS))
    have_weeks = set(instance.get_dynamic_partitions(LOG_WEEKS))
    new_days = [d.isoformat() for d in days if d.isoformat() not in have_days]
    new_weeks = sorted({week_key(d) for d in days} - have_weeks)
    return new_days, new_weeks


def register_partitions(instance: dg.DagsterInstance, days: Iterable[date]) -> tuple[list[str], list[str]]:
    """Add the daily and weekly keys of ``days`` to the instance; returns what was new."""
    new_days, new_weeks = missing_keys(instance, days)
    if new_days:
        instance.add_dynamic_partitions(LOG_DAYS, new_days)
    if new_weeks:
        instance.add_dynamic_partitions(LOG_WEEKS, new_weeks)
    return new_days, new_weeks
