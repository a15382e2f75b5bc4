"""Task-level insights: the backlog, task-planning heuristics and error/characteristic correlation.

The original Node analytics CLI (``analyze-agent-work.mjs``) answered "why did this task need so many
attempts?" with a backlog list and a handful of planning heuristics; its roadmap left "correlation analysis
(error clusters → task characteristics)" open. All three live here as pure functions over two tables the
assets and the CLI both have:

* ``sessions`` — one row per attempt (``agent_pipelines.analytics.metrics.session_metrics``);
* ``errors`` — one row per error event with its cluster
(:func:`agent_pipelines.analytics.errors.error_occurrences`);

plus, optionally, the cleaned events for follow-up reasons and the orchestrator's last task status.
Each function returns a polars frame; rendering is the caller's job.
"""

from __future__ import annotations

from agent_pipelines.analytics.insights.correlation import (
    CORRELATION_DIMENSIONS,
    MIN_GROUP,
    MIN_SUPPORT,
    correlation,
    title_keywords,
)
from agent_pipelines.analytics.insights.planning import (
    COMPLEXITY_DURATION_FACTOR,
    COMPLEXITY_MIN_ATTEMPTS,
    RULES,
    RULES_BY_NAME,
    SCOPE_MIN_FOLLOWUPS,
    PlanningRule,
    task_planning_insights,
)
from agent_pipelines.analytics.insights.tasks import (
    BACKLOG_MIN_ATTEMPTS,
    UNCATEGORIZED,
    backlog_tasks,
    task_overview,
)

__all__ = [
    "BACKLOG_MIN_ATTEMPTS",
    "COMPLEXITY_DURATION_FACTOR",
    "COMPLEXITY_MIN_ATTEMPTS",
    "CORRELATION_DIMENSIONS",
    "MIN_GROUP",
    "MIN_SUPPORT",
    "RULES",
    "RULES_BY_NAME",
    "SCOPE_MIN_FOLLOWUPS",
    "UNCATEGORIZED",
    "PlanningRule",
    "backlog_tasks",
    "correlation",
    "task_overview",
    "task_planning_insights",
    "title_keywords",
]
