"""Dagster's own cost kept small around a long asset step (``cleaned_events`` over many days).

Why: a 31-day single-run backfill of ``cleaned_events`` (1M events) took ~0.5 s longer inside Dagster
than the same library call alone. Two parts of that are Dagster's housekeeping, not our work:

* the cyclic garbage collector: the step's own objects (frames' wrappers, the materialization
  events and their metadata) set off a full collection that walks every object of the process,
  ~315,000 once Dagster and the code location are loaded: 0.14-0.20 s a run, measured with
  ``gc.callbacks``. While the step works the collector leaves the older objects alone
  (:func:`~agent_pipelines.orchestration.detector_job.old_objects_left_alone`, as the live
  detector does);
* the event log on SQLite: Dagster opens, commits and closes a connection to the run's database (and
  the index) for every event it stores, and in WAL mode closing the last connection checkpoints and
  deletes the write-ahead log with its fsyncs; the step records one materialization per day. An idle
  connection held to both databases while the step runs leaves the checkpoints to SQLite
  (:func:`~agent_pipelines.orchestration.run_launch.event_log_held_open`, as express runs do);
  nothing is read or written through it. Any other storage: nothing is held.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import dagster as dg

from agent_pipelines.orchestration.detector_job import old_objects_left_alone
from agent_pipelines.orchestration.run_launch import event_log_held_open


@contextlib.contextmanager
def lean_step(context: dg.AssetExecutionContext | dg.OpExecutionContext) -> Iterator[None]:
    """Around an asset's body, including its last ``yield`` (Dagster stores the materializations
    while the op waits there): see the module docstring."""
    with old_objects_left_alone(), event_log_held_open(context.instance, context.run.run_id):
        yield


__all__ = ["lean_step"]
