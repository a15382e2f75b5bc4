"""Registering the log days and weeks as Dagster's dynamic partitions (the days themselves:
core.partitions).

Dagster lists dynamic partitions in the order they were added. Days usually arrive in order, but an
import of older transcripts (or a log folder restored from an archive) adds days *before* the ones
already registered; appending them would list the partitions out of date order in every view of the
UI. So a key earlier than the latest registered one is inserted by re-adding the keys after it:
their materializations are kept (Dagster keys them by the partition's name, not its row).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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


def in_date_order(existing: Sequence[str], new: Iterable[str]) -> tuple[list[str], list[str]]:
    """(keys to remove, keys to add, in order) so that ``existing`` plus ``new`` end up sorted.

    Only the registered keys after the earliest new one move; new keys that all come after the
    registered ones are simply appended (nothing removed).
    """
    fresh = sorted(set(new) - set(existing))
    if not fresh:
        return [], []
    later = [k for k in existing if k > fresh[0]]
    return later, sorted({*later, *fresh})


def partition_requests(
    instance: dg.DagsterInstance, new_days: Sequence[str], new_weeks: Sequence[str]
) -> list[dg.DeleteDynamicPartitionsRequest | dg.AddDynamicPartitionsRequest]:
    """A sensor's requests adding ``new_days`` and ``new_weeks`` in date order (see the module doc)."""
    requests: list[dg.DeleteDynamicPartitionsRequest | dg.AddDynamicPartitionsRequest] = []
    for name, keys in ((LOG_DAYS, new_days), (LOG_WEEKS, new_weeks)):
        remove, add = in_date_order(instance.get_dynamic_partitions(name), keys)
        if remove:
            requests.append(dg.DeleteDynamicPartitionsRequest(name, partition_keys=remove))
        if add:
            requests.append(dg.AddDynamicPartitionsRequest(name, partition_keys=add))
    return requests


def register_partitions(instance: dg.DagsterInstance, days: Iterable[date]) -> tuple[list[str], list[str]]:
    """Add the daily and weekly keys of ``days`` to the instance, in date order; returns what was new."""
    new_days, new_weeks = missing_keys(instance, days)
    for name, keys in ((LOG_DAYS, new_days), (LOG_WEEKS, new_weeks)):
        remove, add = in_date_order(instance.get_dynamic_partitions(name), keys)
        for key in remove:
            instance.delete_dynamic_partition(name, key)
        if add:
            instance.add_dynamic_partitions(name, add)
    return new_days, new_weeks
