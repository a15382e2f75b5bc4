"""The report's tables as rows of display text, shared by the Markdown and the HTML rendering.

Every value that comes from the logs (task titles, messages, templates, categories) goes through
:func:`safe_text` here — redacted, on one line, clipped — so neither rendering can show a secret or
break its layout; each rendering then escapes the text for its own markup.
"""

from __future__ import annotations

from typing import Any

from agent_pipelines.analytics import metrics as metrics_lib
from agent_pipelines.analytics.report.build import WeeklyReport
from agent_pipelines.text.redaction import redact

SUCCESS_HEAD = ["Metric", "This week", "Target", "Target met", "Previous week", "Change"]
EXEC_HEAD = ["Executor", "Sessions", "Success %", "First-shot %", "Avg Time", "Avg Cost", "Errors/session"]
CLUSTER_HEAD = ["Cluster", "Category", "Occurrences", "Tasks", "First seen", "Last seen", "Sample"]
BACKLOG_HEAD = ["Task", "Why", "Status", "Attempts", "Root causes", "Cost"]


def clip(text: str, limit: int) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def safe_text(value: Any, limit: int = 100) -> str:
    """A value from the logs, made safe to show: redacted, one line, clipped."""
    if value is None:
        return ""
    return clip(redact(str(value)), limit)


def _fmt_pct100(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}%"


def _fmt_num(value: float | None, pattern: str) -> str:
    return "–" if value is None else pattern.format(value)


def _causes(root_causes: list[dict[str, Any]] | None) -> str:
    """``dependency: 2, api_key: 1``, each category redacted alone (joined, it reads as key: value)."""
    return ", ".join(f"{safe_text(c['category'], 40)}: {c['count']}" for c in (root_causes or []))


def headline(report: WeeklyReport) -> str:
    """The one-line totals under the title."""
    t = report.totals
    still_open = f" ({t['open_sessions']} still open)" if t["open_sessions"] else ""
    return ("Partial week so far — " if report.partial else "") + (
        f"Sessions: {t['sessions']}{still_open} · Tasks: {t['tasks']} · "
        f"Errors: {t['errors']} in {t['clusters']} clusters · Cost: ${t['cost_usd']:.2f} · "
        f"Backlog: {t['backlog_tasks']} tasks"
    )


def success_rows(report: WeeklyReport) -> list[list[str]]:
    """Success metrics against their targets; a partial week shows no week-over-week change."""
    rows = []
    for r in report.success.iter_rows(named=True):
        unit = r["unit"]
        mark = metrics_lib.met_mark(r["met"])
        rows.append(
            [
                r["label"],
                metrics_lib.format_metric(r["last_7d"], unit),
                f"{r['comparator']}{metrics_lib.format_metric(r['target'], unit)}",
                mark,
                "not compared" if report.partial else metrics_lib.format_metric(r["previous_7d"], unit),
                "–" if report.partial else metrics_lib.format_metric(r["wow_change"], unit, signed=True),
            ]
        )
    return rows


def executor_rows(report: WeeklyReport) -> list[list[str]]:
    return [
        [
            safe_text(r["executor"]),
            str(r["sessions"]),
            _fmt_pct100(r["success_pct"]),
            _fmt_pct100(r["first_shot_pct"]),
            _fmt_num(r["avg_duration_s"], "{:.1f}s"),
            _fmt_num(r["avg_cost_usd"], "${:.3f}"),
            _fmt_num(r["errors_per_session"], "{:.2f}"),
        ]
        for r in report.executors.iter_rows(named=True)
    ]


def cluster_rows(report: WeeklyReport, sample_limit: int) -> list[list[str]]:
    return [
        [
            safe_text(r["cluster_label"], 80),
            safe_text(r["category"]),
            str(r["occurrences"]),
            str(r["tasks"]),
            r["first_seen"].strftime("%Y-%m-%d %H:%M") if r["first_seen"] else "",
            r["last_seen"].strftime("%Y-%m-%d %H:%M") if r["last_seen"] else "",
            safe_text(r["sample_message"], sample_limit),
        ]
        for r in report.clusters.iter_rows(named=True)
    ]


def backlog_rows(report: WeeklyReport) -> list[list[str]]:
    return [
        [
            safe_text(r["task_title"] or r["task_id"], 70),
            r["reason"].replace("+", " + ").replace("_", " "),
            safe_text(r["status"]),
            str(r["attempts"]),
            clip(_causes(r["root_causes"]), 100),
            f"${r['total_cost_usd'] or 0:.2f}",
        ]
        for r in report.backlog.iter_rows(named=True)
    ]


def planning_blocks(report: WeeklyReport) -> list[dict[str, Any]]:
    """One block per failed task: title, status, attempts, root causes and suggested improvements."""
    blocks: list[dict[str, Any]] = []
    for (_task,), group in report.planning.group_by(["task_id"], maintain_order=True):
        first = group.row(0, named=True)
        blocks.append(
            {
                "title": safe_text(first["task_title"] or first["task_id"], 90),
                "status": safe_text(first["status"]),
                "attempts": first["attempts"],
                "causes": [(safe_text(c["category"], 40), c["count"]) for c in first["root_causes"] or []],
                "improvements": [
                    (r["improvement"], safe_text(r["evidence"], 160)) for r in group.iter_rows(named=True)
                ],
            }
        )
    return blocks
