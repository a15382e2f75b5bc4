"""Error loops for the "error loop frequency" metric: the live detector's alerts when they exist,
else the same rule over the events (logs analysed after the fact)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import polars as pl

from agent_pipelines.analytics.metrics.sessions import Frame
from agent_pipelines.core import paths
from agent_pipelines.core.jsonl import iter_json_objects

# --------------------------------------------------------------------------------------------
# Error loops (for "error loop frequency")
# --------------------------------------------------------------------------------------------

ERROR_LOOP_THRESHOLD = 4  # the original Node analyzer's AGENT_ERROR_LOOP_THRESHOLD default
ERROR_LOOP_WINDOW = timedelta(minutes=10)


def error_loop_threshold(configured: int | None = None) -> int:
    """``AGENT_ERROR_LOOP_THRESHOLD`` (``configured``, from the edge's settings) as the live detector
    reads it; a "loop" needs at least 2 errors."""
    return max(2, configured or ERROR_LOOP_THRESHOLD)


def detect_error_loops(
    events: Frame, threshold: int | None = None, window: timedelta = ERROR_LOOP_WINDOW
) -> pl.DataFrame:
    """Attempts where ``threshold`` errors of one kind fell within ``window`` (the live rule).

    Used when the live detector's ``agent-alerts.jsonl`` is absent (logs analysed after the fact).
    Same rule as ``agent_pipelines.live.detectors``: an error counts towards its fingerprint (when given)
    *and* towards its message template (``clustering``), so a kind whose events carry the
    fingerprint only sometimes is still one loop. Returns ``attempt_id, loop_key, detected_at``:
    one row per attempt (its first loop).
    """
    from agent_pipelines.analytics.errors import error_events

    return error_loops_from_errors(error_events(events), threshold=threshold, window=window)


def error_loops_from_errors(
    errors: Frame, threshold: int | None = None, window: timedelta = ERROR_LOOP_WINDOW
) -> pl.DataFrame:
    """:func:`detect_error_loops` over error events already templated (``errors.error_events``).

    What the assets call: the templates were computed once per day, so finding loops over months
    of errors is a sort and a shift.
    """
    from agent_pipelines.analytics.errors import with_mined_templates

    threshold = error_loop_threshold(threshold)
    mined = with_mined_templates(errors.lazy().collect())
    keyed = mined.lazy().select("attempt_id", "timestamp", "fingerprint", "error_template")
    fp = pl.col("fingerprint")
    by_key = pl.concat(
        [
            keyed.filter(fp.is_not_null()).select(
                "attempt_id", "timestamp", (pl.lit("f:") + fp).alias("loop_key")
            ),
            keyed.select(
                "attempt_id", "timestamp", (pl.lit("t:") + pl.col("error_template")).alias("loop_key")
            ),
        ]
    )
    ahead = pl.col("timestamp").shift(-(threshold - 1)).over("attempt_id", "loop_key")
    return (
        by_key.sort("attempt_id", "loop_key", "timestamp")
        .with_columns(_ahead=ahead)
        .filter((pl.col("_ahead") - pl.col("timestamp")) <= window)
        .group_by("attempt_id")
        .agg(pl.col("_ahead").min().alias("detected_at"), pl.col("loop_key").sort_by("_ahead").first())
        .select("attempt_id", "loop_key", "detected_at")
        .sort("detected_at", "attempt_id")
        .collect()
    )


def read_error_loop_alerts(logs_root: str | os.PathLike[str]) -> pl.DataFrame | None:
    """``attempt_id, detected_at`` of the live detector's error-loop alerts, or ``None`` with no file.

    Tolerant of the alert's shape (``type`` or ``alert_type``; the original analyzer's files and ours): a line
    that is not an error-loop alert with an attempt id is skipped.
    """
    path = Path(logs_root) / paths.ALERTS_FILE
    if not path.exists():
        return None
    rows = []
    for record in iter_json_objects(path):
        kind = record.get("type") or record.get("alert_type") or record.get("alert")
        attempt = record.get("attempt_id")
        if str(kind).lower() == "error_loop" and isinstance(attempt, str):
            rows.append({"attempt_id": attempt, "detected_at": record.get("timestamp")})
    frame = pl.DataFrame(rows, schema={"attempt_id": pl.String(), "detected_at": pl.String()}, orient="row")
    return frame.with_columns(
        pl.col("detected_at").str.to_datetime(time_zone="UTC", strict=False, time_unit="us")
    )


ALERTS_SOURCE = paths.ALERTS_FILE
DERIVED_SOURCE = "derived from error events"


def error_loops(
    logs_root: str | os.PathLike[str],
    *,
    events: Frame | None = None,
    errors: Frame | None = None,
    threshold: int | None = None,
) -> tuple[pl.DataFrame, str]:
    """The attempts with an error loop, and where they came from: the live detector's alerts file
    when there is one (:data:`ALERTS_SOURCE`), else the same rule (:data:`DERIVED_SOURCE`) over
    ``errors`` (error events already templated, what the assets keep) or ``events`` (cleaned
    events, what the CLI reads). One rule for the assets, the weekly report and ``analyze``; a lazy
    frame is only read when the alerts file is absent. ``threshold``: ``AGENT_ERROR_LOOP_THRESHOLD``
    from the edge's settings (the original's 4 without)."""
    alerts = read_error_loop_alerts(logs_root)
    if alerts is not None:
        return alerts, ALERTS_SOURCE
    if errors is not None:
        return error_loops_from_errors(errors, threshold), DERIVED_SOURCE
    if events is None:
        raise ValueError("error_loops needs events or errors when there is no alerts file")
    return detect_error_loops(events, threshold), DERIVED_SOURCE
