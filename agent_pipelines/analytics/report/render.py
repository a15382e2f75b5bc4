"""The weekly report's renderings: Markdown for the UI, a standalone HTML page, text for Telegram.

* Markdown for ``dg.MetadataValue.md`` (the UI renders tables, not SVG);
* HTML from the Jinja template ``templates/weekly_report.html.j2`` (autoescaped: a task title
  cannot become markup), with the inline SVG charts of :mod:`agent_pipelines.analytics.report.charts`;
* a short plain-text summary for Telegram (redacted and escaped again by the notifier's formatter).

All three show the rows of :mod:`agent_pipelines.analytics.report.rows`, where values from the logs are
redacted.
"""

from __future__ import annotations

import os
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from agent_pipelines.analytics import metrics as metrics_lib
from agent_pipelines.analytics.report import rows
from agent_pipelines.analytics.report.build import TOP_CLUSTERS, TOP_TASKS, WeeklyReport
from agent_pipelines.analytics.report.charts import render_charts
from agent_pipelines.core.atomic import atomic_write
from agent_pipelines.text import markdown as md

REPORTS_DIR = "reports"


def _md(value: Any, limit: int = 100) -> str:
    """A value from the logs as Markdown text that renders as itself (``<URL>`` stays visible)."""
    return md.escape(rows.safe_text(value, limit))


def _md_table(head: list[str], body: list[list[str]]) -> str:
    if not body:
        return "_none_"
    lines = ["| " + " | ".join(md.escape(h) for h in head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines.extend("| " + " | ".join(row) + " |" for row in body)
    return "\n".join(lines)


def render_markdown(report: WeeklyReport) -> str:
    """The report as Markdown (Dagster renders it in the asset's metadata)."""
    out = [
        f"# Agent work — weekly report, {report.label}",
        "",
        rows.headline(report),
        "",
        md.escape(report.window),
        "",
        "## Success metrics vs targets",
        _md_table(rows.SUCCESS_HEAD, [[_md(c) for c in row] for row in rows.success_rows(report)]),
        "",
        "## Executor comparison",
        _md_table(rows.EXEC_HEAD, [[_md(c) for c in row] for row in rows.executor_rows(report)]),
        "",
        f"## Top {TOP_CLUSTERS} error clusters",
        _md_table(rows.CLUSTER_HEAD, [[_md(c, 80) for c in row] for row in rows.cluster_rows(report, 80)]),
        "",
        f"## Backlog ({report.totals['backlog_tasks']} tasks; top {TOP_TASKS})",
        _md_table(rows.BACKLOG_HEAD, [[_md(c) for c in row] for row in rows.backlog_rows(report)]),
        "",
        "## Task planning insights (failed tasks)",
    ]
    blocks = rows.planning_blocks(report)
    if not blocks:
        out.append("_none_")
    for b in blocks:
        out += ["", f"**{_md(b['title'])}** — status {_md(b['status'])}, {b['attempts']} attempts  "]
        if b["causes"]:
            out.append("Root causes: " + ", ".join(f"{_md(c)}: {n}" for c, n in b["causes"]) + "  ")
        out += [f"- {_md(i)} ({_md(e, 160)})" for i, e in b["improvements"]]
    out += ["", f"_Generated {report.generated_at.strftime('%Y-%m-%d %H:%M UTC')}._"]
    return "\n".join(out)


@cache
def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("agent_pipelines.analytics.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a misspelt name fails the render, never prints nothing
        keep_trailing_newline=True,
    )


def render_html(report: WeeklyReport) -> str:
    """A standalone HTML page: inline CSS and SVG only, nothing fetched from the network."""
    return (
        _templates()
        .get_template("weekly_report.html.j2")
        .render(
            label=report.label,
            headline=rows.headline(report),
            window=report.window,
            charts=render_charts(report),
            success_head=rows.SUCCESS_HEAD,
            success_rows=rows.success_rows(report),
            exec_head=rows.EXEC_HEAD,
            exec_rows=rows.executor_rows(report),
            top_clusters=TOP_CLUSTERS,
            cluster_head=rows.CLUSTER_HEAD,
            cluster_rows=rows.cluster_rows(report, 160),
            backlog_tasks=report.totals["backlog_tasks"],
            top_tasks=TOP_TASKS,
            backlog_head=rows.BACKLOG_HEAD,
            backlog_rows=rows.backlog_rows(report),
            planning=rows.planning_blocks(report),
            generated=report.generated_at.strftime("%Y-%m-%d %H:%M UTC"),
        )
    )


def render_summary(report: WeeklyReport, html_path: Path | None = None) -> str:
    """A few lines for Telegram: headline numbers, misses against targets, top errors."""
    t = report.totals
    lines = [f"Sessions: {t['sessions']}, tasks: {t['tasks']}, cost: ${t['cost_usd']:.2f}"]
    for r in report.success.iter_rows(named=True):
        if r["last_7d"] is None:
            continue
        mark = "✅" if r["met"] else "❌"
        value = metrics_lib.format_metric(r["last_7d"], r["unit"])
        target = metrics_lib.format_metric(r["target"], r["unit"])
        lines.append(f"{mark} {r['label']}: {value} (target {r['comparator']}{target})")
    if report.clusters.height:
        lines.append("Top errors:")
        lines += [
            f"  {r['occurrences']} × {rows.safe_text(r['cluster_label'], 60)}"
            for r in report.clusters.head(3).iter_rows(named=True)
        ]
    lines.append(f"Backlog: {t['backlog_tasks']} tasks")
    if html_path is not None:
        lines.append(f"Report: {html_path}")
    return "\n".join(lines)


def report_path(data_dir: str | os.PathLike[str], week_start: date) -> Path:
    """``<data>/reports/weekly-report-<monday>.html``."""
    return Path(data_dir) / REPORTS_DIR / f"weekly-report-{week_start.isoformat()}.html"


def write_report(report: WeeklyReport, data_dir: str | os.PathLike[str]) -> Path:
    """Write the HTML (and the Markdown beside it) atomically; returns the HTML path."""
    target = report_path(data_dir, report.week_start)
    atomic_write(target, render_html(report).encode("utf-8"))
    atomic_write(target.with_suffix(".md"), render_markdown(report).encode("utf-8"))
    return target
