"""``alerts``: the live detectors' alerts of one UTC day, as a table in the UI.

Fed by the detector runs: each ``live_detector_job`` run that writes alerts re-materializes the
partitions of the days they fall on (``agent_pipelines/orchestration/detector_job.py``), so the asset page
lists them
seconds after they fire. Materializing a day here (the UI, ``agent-pipelines materialize``) reads
the same records from ``agent-alerts.jsonl`` and its archive, through the same library functions.
"""

from collections.abc import Iterator
from datetime import date

import dagster as dg
import polars as pl

from agent_pipelines.live.alert_status import actions_table
from agent_pipelines.live.alerts_table import alerts_table, day_window, read_alert_records, table_writers_lock
from agent_pipelines.orchestration.alert_delivery import alert_actions_metadata, fates_for
from agent_pipelines.orchestration.io_manager import add_partition_metadata
from agent_pipelines.orchestration.links import files_url
from agent_pipelines.orchestration.log_store import LogStore
from agent_pipelines.orchestration.ui_metadata import alerts_metadata
from assets.events import daily_table_asset, table_asset


@daily_table_asset("alerts")
def alerts(
    context: dg.AssetExecutionContext, log_store: LogStore
) -> Iterator[dg.Output[dict[str, pl.DataFrame]]]:
    """Alerts of the live detectors (error loops, tool loops, stuck agents, cost anomalies, excessive
    restarts, failed sessions with many errors) that fired on one UTC day: time, attempt, task,
    executor, type, severity, the original analyzer's recommendation, a one-line summary and a sample
    message; its metadata table adds what became of each (silenced, delivered to which receivers,
    waiting, the action's state). Written by the detector runs as they fire; also rebuilt from
    `agent-alerts.jsonl` with each new log day, so a day without alerts shows 0 rather than missing.
    A backfill of many days is one run (each day's partition still shows its own alerts)."""
    base = files_url(log_store.settings)
    # From the read until the materialization is recorded (the ``yield`` returns after Dagster
    # stored it), the alerts table's writers take turns with the detector runs: see
    # :func:`table_writers_lock`.
    with table_writers_lock(log_store.data_path):
        tables = {
            key: alerts_table(read_alert_records(log_store.logs_path, date.fromisoformat(key)))
            for key in context.partition_keys
        }
        if len(tables) == 1:
            [(key, table)] = tables.items()
            window = day_window(date.fromisoformat(key))
            fates = fates_for(log_store.data_path, table, log_store.settings)
            yield dg.Output(tables, metadata=alerts_metadata(table, window, base, fates=fates))
            return
        for key, table in tables.items():  # each day's partition shows its own alerts, 0 included
            fates = fates_for(log_store.data_path, table, log_store.settings)
            metadata = alerts_metadata(table, day_window(date.fromisoformat(key)), base, fates=fates)
            add_partition_metadata(context, key, metadata)
        counts = {key: table.height for key, table in tables.items()}
        yield dg.Output(
            tables,
            metadata={"alerts": sum(counts.values()), "alerts_by_day": dg.MetadataValue.json(counts)},
        )


@table_asset("alerts")
def alert_actions(log_store: LogStore) -> dg.Output[pl.DataFrame]:
    """What was done about alerts: one row per alert whose recommendation has an action configured in
    alerts.yaml (a command or an HTTP call) — its target, state (planned, running, succeeded, failed,
    gave_up, interrupted), attempts, last exit or HTTP status, error and output (redacted). The
    detector runs rewrite it whenever they launch an action; materializing it here reads the same
    ledger (`<data>/state/actions`)."""
    table = actions_table(log_store.data_path)
    return dg.Output(table, metadata=alert_actions_metadata(table))
