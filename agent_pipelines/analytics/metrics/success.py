"""The original Node analytics CLI's six success metrics against their targets, and how they read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import polars as pl

from agent_pipelines.analytics.metrics.sessions import Frame
from agent_pipelines.core.windows import Window, data_end
from agent_pipelines.text import markdown as md

# --------------------------------------------------------------------------------------------
# The original Node analytics CLI's six success metrics
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    metric: str
    label: str
    comparator: Literal["<", ">"]
    target: float
    unit: str  # "%", "x", "$", "min"


TARGETS: tuple[Target, ...] = (
    Target("success_rate", "Success Rate", ">", 0.80, "%"),
    Target("first_shot_rate", "First-Shot Success Rate", ">", 0.40, "%"),
    Target("avg_attempts_per_task", "Avg Attempts per Task", "<", 2.0, "x"),
    Target("error_loop_frequency", "Error Loop Frequency", "<", 0.05, "%"),
    Target("cost_per_task", "Cost per Task", "<", 0.10, "$"),
    Target("mean_time_to_completion_ms", "Mean Time to Completion", "<", 5 * 60 * 1000, "min"),
)


def _six(sessions: pl.DataFrame, loop_attempts: set[str]) -> dict[str, float | None]:
    """The six numbers over a set of sessions (ratios 0-1, cost in USD, time in ms)."""
    closed = sessions.filter(~pl.col("is_open"))
    done = sessions.filter(pl.col("succeeded"))
    tasks = sessions.with_columns(pl.coalesce("task_id", "attempt_id").alias("_task"))
    per_task = tasks.group_by("_task").agg(
        pl.col("succeeded").any().alias("completed"),
        (pl.col("succeeded") & (pl.col("attempt_number") == 1)).any().alias("first_shot"),
    )
    completed = int(per_task["completed"].sum()) if per_task.height else 0
    n = sessions.height
    looping = sessions.filter(pl.col("attempt_id").is_in(sorted(loop_attempts))).height if n else 0
    cost = sessions["cost_usd"].fill_null(0.0).sum() if n else 0.0
    return {
        "success_rate": done.height / closed.height if closed.height else None,
        "first_shot_rate": int(per_task["first_shot"].sum()) / completed if completed else None,
        "avg_attempts_per_task": n / per_task.height if per_task.height else None,
        "error_loop_frequency": looping / n if n else None,
        "cost_per_task": float(cost) / completed if completed else None,
        "mean_time_to_completion_ms": done["duration_ms"].mean() if done.height else None,  # type: ignore[dict-item]
    }


def success_metrics(
    sessions: Frame,
    *,
    now: datetime | None = None,
    error_loops: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The original Node analytics CLI's six metrics against their targets, overall and for the last
    two weeks.

    Columns: ``metric, label, value`` (all sessions), ``last_7d`` and ``previous_7d`` (sessions that
    *started* in the 7 days before ``now`` and the 7 before that), ``wow_change`` (last − previous),
    ``target, comparator, met`` (``value`` against the target; null when there is no data) and
    ``unit``. ``now`` defaults to the latest event in the data
    (:func:`agent_pipelines.core.windows.data_end`),
    so historical or generated logs get a meaningful "last week" instead of an empty one; every
    output states the window (:meth:`agent_pipelines.core.windows.Window.describe`). ``error_loops`` holds
    the attempts that had an error loop (``attempt_id`` column; see :func:`read_error_loop_alerts`,
    :func:`detect_error_loops`).
    """
    frame = sessions.lazy().collect()
    last_week = Window(data_end(frame) if now is None else now, 7)
    loops = (
        set(error_loops["attempt_id"].to_list()) if error_loops is not None and error_loops.height else set()
    )
    windows = {
        "value": frame,
        "last_7d": last_week.sessions(frame),
        "previous_7d": last_week.previous().sessions(frame),
    }
    values = {name: _six(part, loops) for name, part in windows.items()}
    rows = []
    for t in TARGETS:
        value = values["value"][t.metric]
        last, prev = values["last_7d"][t.metric], values["previous_7d"][t.metric]
        met = None if value is None else (value > t.target if t.comparator == ">" else value < t.target)
        rows.append(
            {
                "metric": t.metric,
                "label": t.label,
                "value": value,
                "last_7d": last,
                "previous_7d": prev,
                "wow_change": None if last is None or prev is None else last - prev,
                "target": t.target,
                "comparator": t.comparator,
                "met": met,
                "unit": t.unit,
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "metric": pl.String(),
            "label": pl.String(),
            "value": pl.Float64(),
            "last_7d": pl.Float64(),
            "previous_7d": pl.Float64(),
            "wow_change": pl.Float64(),
            "target": pl.Float64(),
            "comparator": pl.String(),
            "met": pl.Boolean(),
            "unit": pl.String(),
        },
        orient="row",
    )


def format_metric(value: float | None, unit: str, *, signed: bool = False) -> str:
    """A metric value as people read it: ``82.2%``, ``1.45``, ``$0.052``, ``2.1 min``."""
    if value is None:
        return "–"
    sign = "+" if signed and value > 0 else ""
    if unit == "%":
        return f"{sign}{value * 100:.1f}%" if not signed else f"{sign}{value * 100:.1f} pp"
    if unit == "$":
        return f"{sign}${value:.3f}" if value >= 0 else f"-${-value:.3f}"
    if unit == "min":
        return f"{sign}{value / 60000:.1f} min"
    return f"{sign}{value:.2f}"


def met_mark(met: bool | None) -> str:
    """The pass/fail cell under its "Target met" header: words, no emoji (an emoji-only cell read as
    empty boxes on a machine without an emoji font; the HTML report colours the words instead)."""
    return "no data" if met is None else ("met" if met else "missed")


def success_metrics_markdown(table: pl.DataFrame, window: str | None = None) -> str:
    """The success-metrics table as Markdown (the UI's metadata), its windows stated under it."""
    lines = [
        "| Metric | Value | Target | Target met | Last 7 days | Week over week |",
        "|---|---:|---:|:-:|---:|---:|",
    ]
    for row in table.iter_rows(named=True):
        unit = row["unit"]
        target = f"{row['comparator']}{format_metric(row['target'], unit)}"
        change = format_metric(row["wow_change"], unit, signed=True)
        lines.append(
            f"| {md.escape(row['label'])} | {md.escape(format_metric(row['value'], unit))} "
            f"| {md.escape(target)} | {met_mark(row['met'])} "
            f"| {md.escape(format_metric(row['last_7d'], unit))} | {md.escape(change)} |"
        )
    if window:
        lines += ["", md.escape(window)]
    return "\n".join(lines)


def markdown_table(frame: pl.DataFrame, limit: int = 20, max_chars: int = 80) -> str:
    """A frame as a Markdown table (the first ``limit`` rows), every cell escaped (see
    :mod:`agent_pipelines.text.markdown`: ``<URL>`` placeholders must survive), for metadata and reports."""
    return md.table(frame, limit=limit, max_chars=max_chars)
