"""The weekly report (the original Node analytics CLI's ``--weekly-report``): Markdown for the UI, an
HTML file, text for Telegram.

Split along its seams:

* :mod:`~agent_pipelines.analytics.report.build` — :class:`WeeklyReport`, computed once by
  :func:`build_weekly_report` from the tables every other view uses (sessions, error occurrences, events);
* :mod:`~agent_pipelines.analytics.report.rows` — the tables as display text, values from the logs redacted;
* :mod:`~agent_pipelines.analytics.report.charts` — inline SVG charts (no JavaScript, no external URL);
* :mod:`~agent_pipelines.analytics.report.render` — Markdown, the HTML page (a Jinja template, autoescaped)
and
  the Telegram summary, and writing the files.
"""

from __future__ import annotations

from agent_pipelines.analytics.report.build import TOP_CLUSTERS, TOP_TASKS, WeeklyReport, build_weekly_report
from agent_pipelines.analytics.report.charts import PALETTE, render_charts, svg_bar_chart, svg_line_chart
from agent_pipelines.analytics.report.render import (
    REPORTS_DIR,
    render_html,
    render_markdown,
    render_summary,
    report_path,
    write_report,
)

__all__ = [
    "PALETTE",
    "REPORTS_DIR",
    "TOP_CLUSTERS",
    "TOP_TASKS",
    "WeeklyReport",
    "build_weekly_report",
    "render_charts",
    "render_html",
    "render_markdown",
    "render_summary",
    "report_path",
    "svg_bar_chart",
    "svg_line_chart",
    "write_report",
]
