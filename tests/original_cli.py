"""The original analytics CLI's figures, ported line for line from its public source.

``virtengine/virtengine``, ``scripts/codex-monitor/analyze-agent-work.mjs`` (commit 855b13bb): each
function below is one of its commands, reading the same field paths with the same JavaScript
semantics (``a?.b``, ``|| 0``, ``|| []``, ``=== true``, ``new Set`` in first-seen order, groups in
first-seen order) and returning the figures it prints instead of printing them. Only the time
filters take ``now`` as an argument (the CLI uses ``Date.now()``), so generated logs of any date can
be read as if the CLI ran just after them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

DAY_MS = 24 * 60 * 60 * 1000


def js_get(record: Any, path: str) -> Any:
    """``record?.a?.b``: ``undefined`` (None) as soon as a step is missing or not an object."""
    value = record
    for step in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(step)
    return value


def js_or0(value: Any) -> float:
    """``value || 0`` for the numbers the CLI sums."""
    return value if isinstance(value, int | float) and not isinstance(value, bool) and value else 0


def js_or_list(value: Any) -> list[Any]:
    """``value || []``."""
    return value if value else []


def unique(values: Iterable[Any]) -> list[Any]:
    """``[...new Set(values)]``: first-seen order."""
    return list(dict.fromkeys(values))


def group_by(
    items: list[dict[str, Any]], key: Callable[[dict[str, Any]], Any]
) -> dict[str, list[dict[str, Any]]]:
    """``groupBy``: keys as JavaScript object keys (strings: ``undefined`` -> "undefined")."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        k = key(item)
        groups.setdefault("undefined" if k is None else str(k), []).append(item)
    return groups


def percentage(items: list[Any], predicate: Callable[[Any], bool]) -> float:
    return sum(1 for i in items if predicate(i)) * 100.0 / len(items) if items else 0.0


def average(numbers: list[float]) -> float:
    return sum(numbers) / len(numbers) if numbers else 0.0


def completed(m: dict[str, Any]) -> bool:
    return js_get(m, "outcome.status") == "completed"


def within(records: list[dict[str, Any]], days: int, now_ms: float) -> list[dict[str, Any]]:
    """``loadMetrics``/``loadErrors``' filter: ``new Date(timestamp).getTime() < cutoff`` skips."""
    cutoff = now_ms - days * DAY_MS
    return [
        r
        for r in records
        if datetime.fromisoformat(r["timestamp"].replace("Z", "+00:00")).timestamp() * 1000 >= cutoff
    ]


def backlog(metrics: list[dict[str, Any]], now_ms: float, days: int = 30) -> dict[str, Any]:
    """``--backlog-tasks``: per task, and the summary."""
    tasks = {}
    for task_id, sessions in group_by(within(metrics, days, now_ms), lambda m: m.get("task_id")).items():
        done = any(completed(s) for s in sessions)
        tasks[task_id] = {
            "attempts": len(sessions),
            "success": done,
            "first_shot_success": len(sessions) == 1 and completed(sessions[0]),
            "total_duration_ms": sum(js_or0(js_get(s, "metrics.duration_ms")) for s in sessions),
            "total_cost": sum(js_or0(js_get(s, "metrics.cost_usd")) for s in sessions),
            "total_errors": sum(js_or0(js_get(s, "error_summary.total_errors")) for s in sessions),
            "executors": unique(s.get("executor") for s in sessions),
            "error_fingerprints": unique(
                fp for s in sessions for fp in js_or_list(js_get(s, "error_summary.error_fingerprints"))
            ),
        }
    rows = list(tasks.values())
    return {
        "tasks": tasks,
        "total_unique_tasks": len(rows),
        "success_rate": percentage(rows, lambda t: t["success"]),
        "first_shot_rate": percentage(rows, lambda t: t["first_shot_success"]),
        "avg_attempts": average([t["attempts"] for t in rows]),
    }


def error_clusters(errors: list[dict[str, Any]], now_ms: float, days: int = 7) -> dict[str, Any]:
    """``--error-clustering``: per fingerprint, and the totals."""
    errs = within(errors, days, now_ms)
    clusters = {}
    for fp, events in group_by(errs, lambda e: js_get(e, "data.error_fingerprint") or "unknown").items():
        clusters[fp] = {
            "count": len(events),
            "affected_tasks": len({e.get("task_id") for e in events}),
            "affected_attempts": len({e.get("attempt_id") for e in events}),
            "first_seen": events[0]["timestamp"],
            "last_seen": events[-1]["timestamp"],
            "sample_message": js_get(events[0], "data.error_message") or "",
            "categories": unique(c for e in events if (c := js_get(e, "data.error_category"))),
        }
    return {"clusters": clusters, "unique_error_types": len(clusters), "total_error_events": len(errs)}


def executor_comparison(metrics: list[dict[str, Any]], executors: list[str], now_ms: float) -> dict[str, Any]:
    """``--executor-comparison``: the table (and its detailed stats)."""
    ms = within(metrics, 30, now_ms)
    out = {}
    for executor in executors:
        sessions = [m for m in ms if m.get("executor") == executor]
        if not sessions:
            continue
        out[executor] = {
            "total_sessions": len(sessions),
            "success_rate": percentage(sessions, completed),
            "first_shot_rate": percentage(
                sessions, lambda s: js_get(s, "metrics.first_shot_success") is True
            ),
            "avg_duration_s": average([js_or0(js_get(s, "metrics.duration_ms")) / 1000 for s in sessions]),
            "avg_cost_usd": average([js_or0(js_get(s, "metrics.cost_usd")) for s in sessions]),
            "avg_tokens": average([js_or0(js_get(s, "metrics.total_tokens")) for s in sessions]),
            "avg_errors": average([js_or0(js_get(s, "error_summary.total_errors")) for s in sessions]),
            "total_cost_usd": sum(js_or0(js_get(s, "metrics.cost_usd")) for s in sessions),
        }
    return out


def _planning_issues(
    sessions: list[dict[str, Any]], done: bool
) -> tuple[dict[str, int], list[str], list[str]]:
    freq: dict[str, int] = {}
    for s in sessions:
        for category in js_or_list(js_get(s, "error_summary.error_categories")):
            freq[category] = freq.get(category, 0) + 1
    issues = []
    if freq.get("dependency"):
        issues.append("Missing dependency setup in task description")
    if freq.get("api_key") or freq.get("auth"):
        issues.append("Missing environment/auth setup instructions")
    if freq.get("context_window"):
        issues.append("Task scope too large, should be broken into subtasks")
    if freq.get("test"):
        issues.append("Missing test setup or test data requirements")
    if freq.get("build"):
        issues.append("Missing build configuration or tooling setup")
    if len(sessions) >= 3 and not done:
        issues.append("Task may be too complex or poorly specified for automation")
    executors = unique(s.get("executor") for s in sessions)
    if len(executors) > 1:
        issues.append(
            f"Executor switching detected ({' → '.join(map(str, executors))})"
            " - may indicate persistent issues"
        )
    summary = []
    if freq.get("dependency"):
        summary.append("dependency")
    if freq.get("api_key") or freq.get("auth"):
        summary.append("auth")
    if freq.get("context_window"):
        summary.append("scope")
    if len(sessions) >= 3 and not done:
        summary.append("complexity")
    return freq, issues, summary


def task_planning(metrics: list[dict[str, Any]], now_ms: float, *, failed_only: bool) -> dict[str, Any]:
    """``--task-planning [--failed-only]``: per problematic task, and the summary's issue counts."""
    tasks = {}
    counts: dict[str, int] = {}
    for task_id, sessions in group_by(within(metrics, 30, now_ms), lambda m: m.get("task_id")).items():
        done = any(completed(s) for s in sessions)
        if (not done) if failed_only else len(sessions) <= 1:
            continue
        freq, issues, summary = _planning_issues(sessions, done)
        tasks[task_id] = {"status": "completed" if done else "failed", "attempts": len(sessions),
                          "root_cause_categories": freq, "planning_improvements": issues}  # fmt: skip
        for issue in summary:
            counts[issue] = counts.get(issue, 0) + 1
    return {"tasks": tasks, "analyzed": len(tasks), "issue_counts": counts}


def weekly_report(
    metrics: list[dict[str, Any]], errors: list[dict[str, Any]], now_ms: float
) -> dict[str, Any]:
    """``--weekly-report``."""
    ms = within(metrics, 7, now_ms)
    total = len(ms)
    done = sum(1 for m in ms if completed(m))
    rate = done * 100.0 / total
    duration_s = sum(js_or0(js_get(m, "metrics.duration_ms")) / 1000 for m in ms)
    cost = sum(js_or0(js_get(m, "metrics.cost_usd")) for m in ms)
    errs = sum(js_or0(js_get(m, "error_summary.total_errors")) for m in ms)
    by_fp = group_by(within(errors, 7, now_ms), lambda e: js_get(e, "data.error_fingerprint") or "unknown")
    top = sorted(((k, len(v)) for k, v in by_fp.items()), key=lambda kv: -kv[1])[:5]  # stable, as JS's sort
    recommendations = []
    if rate < 70:
        recommendations.append("Success rate is below 70% - review task planning")
    if cost / total > 0.1:
        recommendations.append("Average cost per session is high - consider prompt optimization")
    if errs / total > 2:
        recommendations.append("High error rate - investigate common failure patterns")
    return {
        "total_sessions": total,
        "completed": done,
        "success_rate": rate,
        "total_duration_minutes": math.floor(duration_s / 60 + 0.5),  # Math.round
        "total_cost": cost,
        "total_errors": errs,
        "by_executor": {
            k: (len(v), percentage(v, completed))
            for k, v in group_by(ms, lambda m: m.get("executor")).items()
        },
        "top_errors": top,
        "recommendations": recommendations,
    }
