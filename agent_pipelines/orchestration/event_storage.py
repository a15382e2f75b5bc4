"""Dagster's SQLite storage, with a run's asset events written in one transaction per database.

Why: Dagster's SQLite event log opens, commits and closes its databases once per event (an asset
event: the run's database, then the index, twice; closing the last connection checkpoints the WAL).
A run over 31 days records 31 "materialization planned" events when it is created and 31
materializations when ``cleaned_events`` ends: ~0.5 s of CPU on the interpreter's one lock for a
1M-event run, the larger part of what Dagster costs beyond our own work (BENCHMARKS.md, "Cleaned
events against the read_ndjson floor"). Dagster already hands these events over as batches (one per
run's plan, one per step's materializations) when ``DAGSTER_EVENT_BATCH_SIZE`` is set, but its SQLite
storage then stores them one at a time; :class:`BatchedSqliteEventLogStorage` stores each stretch of
consecutive asset events of a batch with the same rows, in their order, in one transaction on the
run's database and one on the index (measured: 0.52 -> 0.27 s of the main thread's CPU in the
event log for such a run). Any other event of a batch is stored by Dagster's ``store_event``, in its
place in the batch.

Only what Dagster's own ``store_event`` does for asset events is done here, by the same methods
(names Dagster does not promise to keep, from
:mod:`~agent_pipelines.orchestration.dagster_internals`, checked by ``tests/test_dagster_internals.py``).
The files are where Dagster's default SQLite storage keeps them (``base_dir`` is ``DAGSTER_HOME``),
so an instance keeps its history when it switches to this class (``config/dagster.yaml``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from agent_pipelines.orchestration.dagster_internals import (
    ASSET_EVENTS,
    ConfigurableClassData,
    DagsterSqliteStorage,
    SqliteEventLogStorage,
    db_result,
    event_logs_directory,
)

BATCH_SIZE_ENV = "DAGSTER_EVENT_BATCH_SIZE"
BATCH_SIZE = "1000"
"""Events per batch (Dagster reads the variable at each event; 0, its default, turns batches off)."""


def _is_asset_event(event: dg.EventLogEntry) -> bool:
    return event.is_dagster_event and event.dagster_event_type in ASSET_EVENTS


class BatchedSqliteEventLogStorage(SqliteEventLogStorage):
    """:class:`SqliteEventLogStorage` whose ``store_event_batch`` writes each stretch of a run's
    consecutive asset events in one transaction on the run's database and one on the index (Dagster's
    stores them one by one); the batch's other events are stored one by one, in their place."""

    def store_event_batch(self, events: Sequence[dg.EventLogEntry]) -> None:
        stretch: list[dg.EventLogEntry] = []
        for event in events:
            if _is_asset_event(event) and (not stretch or event.run_id == stretch[0].run_id):
                stretch.append(event)
                continue
            self._store_assets(stretch)
            stretch = []
            if _is_asset_event(event):
                stretch.append(event)
            else:
                self.store_event(event)
        self._store_assets(stretch)

    def _store_assets(self, events: list[dg.EventLogEntry]) -> None:
        """What ``store_event`` does for each of ``events`` (asset events of one run), in one
        transaction a database."""
        if len(events) < 2:
            for event in events:
                self.store_event(event)
            return
        statements = [self.prepare_insert_event(event) for event in events]
        with self.run_connection(events[0].run_id) as conn:
            for statement in statements:
                conn.execute(statement)
        with self.index_transaction() as conn:
            ids: list[int] = []
            for statement in statements:
                with db_result(conn, statement) as result:
                    ids.append(result.inserted_primary_key[0])
            self._store_asset_event_tags(conn, events, ids)
            for event, event_id in zip(events, ids, strict=True):
                self._store_asset_event(conn, event, event_id)


class BatchedSqliteStorage(DagsterSqliteStorage):
    """Dagster's default SQLite storage (runs, event logs, schedules under ``base_dir``) with
    :class:`BatchedSqliteEventLogStorage` as its event log."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        super().__init__(base_dir, inst_data)
        self._event_log_storage = BatchedSqliteEventLogStorage(event_logs_directory(base_dir))

    @classmethod
    def from_config_value(  # Dagster's builds DagsterSqliteStorage, whatever the class named
        cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]
    ) -> BatchedSqliteStorage:
        return cls.from_local(inst_data=inst_data, **config_value)


# Set where this storage is loaded (every process of the instance: webserver, daemon, run workers),
# so the batches reach it; a value already set wins.
os.environ.setdefault(BATCH_SIZE_ENV, BATCH_SIZE)
