"""Session metrics, the executor comparison and the original Node analytics CLI's six success metrics.

One implementation for the assets and the command line: both call these functions on cleaned
events (the reader's ``CLEANED_SCHEMA``), so the UI and ``agent-pipelines summary`` can never
disagree on a number.

Definitions, decided once and used everywhere:

* **Success** is ``completion_status == "success"`` (``contract.SUCCESS_STATUS``).
* **Open** sessions (no ``session_end`` after their last ``session_start``) have no outcome yet: they
  are neither successes nor failures, so rates are over *closed* sessions. Counting them as failures
  would punish whichever executor happens to be running long tasks right now.
* The **last** ``session_end`` of an attempt speaks for it (status, duration, cost, tokens): the
  logger reports ``duration_ms`` from the attempt's first start, so adding several ends would count
  time twice.
* **First-shot** (the original Node analytics CLI's formula): 1-attempt completions / completions.
  Per task overall (a task whose first attempt succeeded), per session in the executor table (a
  success that was attempt 1).

Split by job: :mod:`~agent_pipelines.analytics.metrics.sessions` (one row per attempt, the executor table),
:mod:`~agent_pipelines.analytics.metrics.loops` (error loops: the alerts file, else detected), and
:mod:`~agent_pipelines.analytics.metrics.success` (the six metrics and their formatting).
"""

from __future__ import annotations

from agent_pipelines.analytics.metrics.loops import (
    ALERTS_SOURCE,
    DERIVED_SOURCE,
    ERROR_LOOP_THRESHOLD,
    ERROR_LOOP_WINDOW,
    detect_error_loops,
    error_loop_threshold,
    error_loops,
    error_loops_from_errors,
    read_error_loop_alerts,
)
from agent_pipelines.analytics.metrics.sessions import (
    SESSION_METRICS_SCHEMA,
    SESSION_PARTS_SCHEMA,
    Frame,
    executor_comparison,
    session_metrics,
    session_parts,
    sessions_from_parts,
)
from agent_pipelines.analytics.metrics.success import (
    TARGETS,
    Target,
    format_metric,
    markdown_table,
    met_mark,
    success_metrics,
    success_metrics_markdown,
)

__all__ = [
    "ALERTS_SOURCE",
    "DERIVED_SOURCE",
    "ERROR_LOOP_THRESHOLD",
    "ERROR_LOOP_WINDOW",
    "SESSION_METRICS_SCHEMA",
    "SESSION_PARTS_SCHEMA",
    "TARGETS",
    "Frame",
    "Target",
    "detect_error_loops",
    "error_loop_threshold",
    "error_loops",
    "error_loops_from_errors",
    "executor_comparison",
    "format_metric",
    "markdown_table",
    "met_mark",
    "read_error_loop_alerts",
    "session_metrics",
    "session_parts",
    "sessions_from_parts",
    "success_metrics",
    "success_metrics_markdown",
]
