"""``alerts``: the live detectors' alerts of one UTC day, as a table in the UI.

Fed by the detector runs: each ``live_detector_job`` run that writes alerts re-materializes the
partitions of the days they fall on (``sensors/live_alerts.py``), so the asset page lists them
seconds after they fire. Materializing a day here (the UI, ``agent-pipelines materialize``) reads
the same records from ``agent-alerts.jsonl`` and its archive, through the same library functions.
"""

from datetime import date

import dagster as dg
import polars as pl

from agent_pipelines.alerts_table import alerts_table, read_alert_records
from agent_pipelines.log_store import LogStore
from agent_pipelines.ui_metadata import alerts_metadata
from assets.events import table_asset
from assets.partitions import daily_partitions


def day_window(day: date) -> str:
    return f"{day.isoformat()} 00:00 – 23:59 UTC (alert time = when the condition became true in the logs)"


@table_asset("alerts", partitions_def=daily_partitions)
def alerts(context: dg.AssetExecutionContext, log_store: LogStore) -> dg.Output[pl.DataFrame]:
    """Alerts of the live detectors (error loops, tool loops, stuck agents, cost anomalies, excessive
    restarts, failed sessions with many errors) that fired on one UTC day: time, attempt, task,
    executor, type, severity, the original analyzer's recommendation, a one-line summary and a sample
    message. Written by the detector runs as they fire; also rebuilt from `agent-alerts.jsonl`."""
    day = date.fromisoformat(context.partition_key)
    table = alerts_table(read_alert_records(log_store.logs_path, day))
    return dg.Output(table, metadata=alerts_metadata(table, day_window(day)))
