"""Alerts as a table people can read: one row per alert, a one-line summary, counts by type and day.

The live detectors write alerts to ``agent-alerts.jsonl`` (the original's format, for existing
monitors). The UI shows them through the ``alerts`` asset (one partition per UTC day) and in each
detector run's metadata; both are built here, from alert records, so they show the same columns.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from agent_pipelines.core import archive, paths
from agent_pipelines.core.jsonl import json_objects
from agent_pipelines.core.locks import exclusive
from agent_pipelines.live.alerts import ALERT_FIELDS, canonical_alert_type
from agent_pipelines.live.state import state_dir

# The own fields of our advisory alerts (alerts.ADVISORY_ALERT_KINDS), beside the original's ALERT_FIELDS.
ADVISORY_ALERT_FIELDS: dict[str, tuple[str, ...]] = {
    "predicted_failure": ("risk", "threshold", "reasons", "model_version"),
}

ALERTS_TABLE_SCHEMA: dict[str, pl.DataType] = {
    "timestamp": pl.Datetime("us", "UTC"),
    "day": pl.Date(),
    "type": pl.String(),
    "severity": pl.String(),
    "attempt_id": pl.String(),
    "task_id": pl.String(),
    "executor": pl.String(),
    "recommendation": pl.String(),
    "summary": pl.String(),
    "sample": pl.String(),
    "alert_id": pl.String(),
    "details": pl.String(),  # the type's own fields, as JSON
}
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}


def _minutes(ms: Any) -> str:
    try:
        return f"{float(ms) / 60000:.1f} min"
    except (TypeError, ValueError):
        return "?"


def alert_summary(alert: Mapping[str, Any]) -> str:
    """What happened, in one plain line (the part a person reads first)."""
    kind = canonical_alert_type(alert.get("type"))
    if kind == "error_loop":
        window = alert.get("window_ms")
        within = f" within {_minutes(window)}" if window else ""
        return f"{alert.get('error_fingerprint') or '?'} ×{alert.get('occurrences', '?')}{within}"
    if kind == "tool_loop":
        window = _minutes(alert.get("window_ms"))
        return f"{alert.get('tool_name') or '?'} ×{alert.get('occurrences', '?')} within {window}"
    if kind == "stuck_agent":
        return f"idle {_minutes(alert.get('idle_time_ms'))} (threshold {_minutes(alert.get('threshold_ms'))})"
    if kind == "cost_anomaly":
        cost, threshold = alert.get("cost_usd"), alert.get("threshold_usd")
        cost_text = f"${cost:.2f}" if isinstance(cost, int | float) else "?"
        threshold_text = f"${threshold:.2f}" if isinstance(threshold, int | float) else "?"
        return f"session cost {cost_text} (threshold {threshold_text})"
    if kind == "excessive_restarts":
        reason = alert.get("last_reason")
        return f"{alert.get('restart_count', '?')} restarts" + (f" (last: {reason})" if reason else "")
    if kind == "failed_session_high_errors":
        fingerprints = alert.get("error_fingerprints") or []
        listed = ", ".join(str(f) for f in fingerprints[:5]) if isinstance(fingerprints, list) else ""
        return f"failed with {alert.get('error_count', '?')} errors" + (f": {listed}" if listed else "")
    if kind == "predicted_failure":
        risk = alert.get("risk")
        risk_text = f"{risk:.0%}" if isinstance(risk, int | float) else "?"
        reasons = alert.get("reasons") or []
        listed = "; ".join(str(r) for r in reasons[:3]) if isinstance(reasons, list) else ""
        return f"predicted failure risk {risk_text}" + (f": {listed}" if listed else "")
    return kind or "?"


def alerts_table(records: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    """Alert records (either version's type names) as :data:`ALERTS_TABLE_SCHEMA`, newest first."""
    rows = []
    for alert in records:
        kind = canonical_alert_type(alert.get("type") or alert.get("alert_type"))
        own = ALERT_FIELDS.get(kind) or ADVISORY_ALERT_FIELDS.get(kind, ())
        details = {k: alert[k] for k in alert if k in own or k == "window_ms"}
        rows.append(
            {
                "timestamp": str(alert.get("timestamp") or ""),
                "type": kind,
                "severity": alert.get("severity"),
                "attempt_id": alert.get("attempt_id"),
                "task_id": alert.get("task_id"),
                "executor": alert.get("executor"),
                "recommendation": alert.get("recommendation"),
                "summary": alert_summary({**alert, "type": kind}),
                "sample": alert.get("sample_message"),
                "alert_id": alert.get("alert_id"),
                "details": json.dumps(details, ensure_ascii=False, default=str),
            }
        )
    schema = {k: v for k, v in ALERTS_TABLE_SCHEMA.items() if k != "day"}
    frame = pl.DataFrame(rows, schema={**schema, "timestamp": pl.String()}, orient="row")
    frame = frame.with_columns(
        pl.col("timestamp").str.to_datetime(time_zone="UTC", time_unit="us", strict=False)
    ).with_columns(pl.col("timestamp").dt.date().alias("day"))
    return frame.select(list(ALERTS_TABLE_SCHEMA)).sort("timestamp", descending=True, nulls_last=True)


def _records(lines: Iterable[bytes], day_prefixes: Sequence[bytes] | None) -> list[dict[str, Any]]:
    if day_prefixes is not None:  # cheap pre-filter: one of the days' dates must appear in the line
        lines = (raw for raw in lines if any(prefix in raw for prefix in day_prefixes))
    return list(json_objects(lines))


def _unique(groups: Iterable[Iterable[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The records in order, each alert once (rotation may leave a line in the archive and the live
    file)."""
    records: list[dict[str, Any]] = []
    seen: set[str] = set()
    for group in groups:
        for record in group:
            key = str(record.get("alert_id") or json.dumps(record, sort_keys=True, default=str))
            if key not in seen:
                seen.add(key)
                records.append(record)
    return records


def _file_records(path: Path, day_prefixes: Sequence[bytes] | None) -> list[dict[str, Any]]:
    return _records(archive.iter_lines(path), day_prefixes) if path.is_file() else []


def read_alert_records(logs_root: str | os.PathLike[str], day: date | None = None) -> list[dict[str, Any]]:
    """Alert records of one UTC day (all when ``day`` is None): the live file and the day's archive."""
    if day is not None:
        return read_alert_records_by_day(logs_root, [day])[day]
    root = Path(logs_root)
    files = [root / paths.ALERTS_FILE, *(path for _, path in archive.archived(root, archive.Kind.ALERTS))]
    return _unique(_file_records(path, None) for path in files)


def read_alert_records_by_day(
    logs_root: str | os.PathLike[str], days: Sequence[date]
) -> dict[date, list[dict[str, Any]]]:
    """:func:`read_alert_records` of each of ``days``, the live file read once for all of them (a
    detector run that crossed midnight rewrites both days' tables)."""
    root = Path(logs_root)
    live = _file_records(root / paths.ALERTS_FILE, [day.isoformat().encode() for day in days])
    by_day: dict[date, list[dict[str, Any]]] = {}
    for day in days:
        iso = day.isoformat()
        archived = _file_records(archive.archive_path(root, archive.Kind.ALERTS, iso), [iso.encode()])
        by_day[day] = _unique(
            (r for r in records if str(r.get("timestamp", "")).startswith(iso))
            for records in (live, archived)
        )
    return by_day


def table_writers_lock(data_dir: str | os.PathLike[str]) -> contextlib.AbstractContextManager[None]:
    """Held by each writer of the ``alerts`` table from reading ``agent-alerts.jsonl`` until its
    materialization is recorded (a detector run: from appending its alerts). The UI shows a day's
    latest materialization; without the lock a day's run that read the file just before a detector
    run appended to it could record its older table after the detector's, and hide those alerts
    for good. Taken in turn, the one recorded last has read the file after the other wrote it."""
    return exclusive(state_dir(data_dir) / "alerts-table.lock")


def day_window(day: date) -> str:
    """The window of one day's alerts, as the UI states it."""
    return f"{day.isoformat()} 00:00 – 23:59 UTC (alert time = when the condition became true in the logs)"


# Counted in Python: an alerts table is a day's or a run's alerts (tens to thousands of rows), and
# every detector run shows these counts; a polars group-by/pivot costs more in start-up than the
# counting (tens of ms on a busy 2-core machine, waiting for its thread pool).


def counts_by_type(table: pl.DataFrame) -> dict[str, int]:
    """Alerts per type, the most frequent first."""
    if table.is_empty():
        return {}
    return {str(k): v for k, v in Counter(table.get_column("type").to_list()).most_common()}


def counts_by_type_and_day(table: pl.DataFrame) -> pl.DataFrame:
    """Alerts per day (rows) and type (columns), for a table in the UI."""
    if table.is_empty():
        return pl.DataFrame({"day": []}, schema={"day": pl.Date()})
    counts = Counter(zip(table.get_column("day").to_list(), table.get_column("type").to_list(), strict=True))
    days = sorted({d for d, _ in counts}, key=lambda d: (d is not None, d))
    kinds = sorted({str(k) for _, k in counts})
    columns: dict[str, Any] = {"day": pl.Series("day", days, dtype=pl.Date())}
    for kind in kinds:
        columns[kind] = pl.Series(kind, [counts.get((d, kind), 0) for d in days], dtype=pl.UInt32())
    return pl.DataFrame(columns)


__all__ = [
    "ALERTS_TABLE_SCHEMA",
    "alert_summary",
    "alerts_table",
    "counts_by_type",
    "counts_by_type_and_day",
    "day_window",
    "read_alert_records",
    "read_alert_records_by_day",
]
