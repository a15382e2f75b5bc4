"""The weekly report (the seed's ``--weekly-report``): Markdown for the UI, an HTML file, text for Telegram.

One :class:`WeeklyReport` is computed from the same tables every other view uses (sessions, error
occurrences, events) by :func:`build_weekly_report`; three renderers turn it into

* Markdown for ``dg.MetadataValue.md`` (the UI renders tables, not SVG),
* a standalone HTML file with inline SVG charts — success by executor, cost per day, the top error
  clusters' daily trend — drawn here in a few lines each, so the file opens offline, from an email
  attachment or an air-gapped box, with no JavaScript and no external URL;
* a short plain-text summary for Telegram (redacted and escaped again by the notifier's formatter).

Every string that comes from the logs (task titles, messages, templates) is passed through
:func:`agent_pipelines.redaction.redact` before it is rendered, and HTML-escaped in the HTML.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from agent_pipelines import errors as errors_lib
from agent_pipelines import insights
from agent_pipelines import markdown as md
from agent_pipelines import metrics as metrics_lib
from agent_pipelines.redaction import redact

REPORTS_DIR = "reports"
TOP_CLUSTERS = 5
TOP_TASKS = 10

# --------------------------------------------------------------------------------------------
# SVG charts
# --------------------------------------------------------------------------------------------

PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7")
_FONT = 'font-family="system-ui, sans-serif" font-size="11"'
_TITLE_FONT = 'font-family="system-ui, sans-serif" font-size="13" font-weight="bold"'


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _svg_text(x: float, y: float, text: str, anchor: str = "start") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" {_FONT}>{_esc(text)}</text>'


def _nice_max(value: float) -> float:
    """A round axis maximum at or above ``value`` (1, 2, 2.5, 5 × 10^n)."""
    if value <= 0:
        return 1.0
    exponent = 10 ** int(f"{value:e}".split("e")[1])
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exponent:
            return step * exponent
    return 10 * exponent


def svg_bar_chart(
    labels: list[str],
    values: list[float],
    *,
    title: str,
    value_format: str = "{:.0%}",
    max_value: float | None = None,
    width: int = 560,
    target: float | None = None,
    target_label: str = "target",
) -> str:
    """Horizontal bars, one per label, with the value printed at the bar's end and, with ``target``,
    a dashed line where the target lies."""
    bar_h, gap, left, top = 22, 8, 140, 28
    height = top + len(labels) * (bar_h + gap) + 10
    top_value = max_value if max_value is not None else _nice_max(max(values, default=0.0))
    span = width - left - 70
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_esc(title)}">',
        f'<text x="0" y="16" {_TITLE_FONT}>{_esc(title)}</text>',
    ]
    if not labels:
        parts.append(f'<text x="0" y="{top + 14}" {_FONT}>no data</text>')
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = top + i * (bar_h + gap)
        w = 0 if top_value <= 0 else max(0.0, min(1.0, value / top_value)) * span
        parts.append(
            f'<text x="{left - 6}" y="{y + bar_h * 0.7:.1f}" text-anchor="end" {_FONT}>{_esc(label)}</text>'
        )
        parts.append(
            f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{PALETTE[i % len(PALETTE)]}">'
            f"<title>{_esc(label)}: {_esc(value_format.format(value))}</title></rect>"
        )
        parts.append(
            f'<text x="{left + w + 4:.1f}" y="{y + bar_h * 0.7:.1f}" {_FONT}>'
            f"{_esc(value_format.format(value))}</text>"
        )
    if target is not None and top_value > 0 and labels:
        x = left + max(0.0, min(1.0, target / top_value)) * span
        bottom = top + len(labels) * (bar_h + gap) - gap
        parts.append(
            f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{bottom}" stroke="#333" '
            f'stroke-dasharray="4 3"><title>{_esc(target_label)}</title></line>'
        )
        parts.append(_svg_text(x, top - 6, f"{target_label} {value_format.format(target)}", "middle"))
    parts.append("</svg>")
    return "".join(parts)


def svg_line_chart(
    x_labels: list[str],
    series: dict[str, list[float]],
    *,
    title: str,
    value_format: str = "{:g}",
    width: int = 640,
    height: int = 260,
    bars: bool = False,
) -> str:
    """Lines (or columns, with ``bars``) over shared x labels, with a legend under the plot."""
    left, right, top, bottom = 56, 16, 28, 44
    legend_h = 16 * len(series) if len(series) > 1 or not bars else 0
    total_h = height + legend_h
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = _nice_max(max((v for vals in series.values() for v in vals), default=0.0))
    n = max(len(x_labels), 1)

    def x_at(i: int) -> float:
        return left + (i + 0.5) * plot_w / n

    def y_at(v: float) -> float:
        return top + plot_h - (v / top_value) * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{total_h}" '
        f'viewBox="0 0 {width} {total_h}" role="img" aria-label="{_esc(title)}">',
        f'<text x="0" y="16" {_TITLE_FONT}>{_esc(title)}</text>',
    ]
    for k in range(5):  # horizontal grid and y labels
        v = top_value * k / 4
        y = y_at(v)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(_svg_text(left - 4, y + 4, value_format.format(v), "end"))
    step = max(1, len(x_labels) // 8)
    for i, label in enumerate(x_labels):
        if i % step == 0:
            parts.append(_svg_text(x_at(i), top + plot_h + 16, label, "middle"))
    if not series or not x_labels:
        parts.append(f'<text x="{left + 8}" y="{top + 20}" {_FONT}>no data</text>')
    for s, (name, values) in enumerate(series.items()):
        color = PALETTE[s % len(PALETTE)]
        if bars:
            bw = plot_w / n * 0.7 / max(len(series), 1)
            for i, v in enumerate(values):
                x, y = x_at(i) - plot_w / n * 0.35 + s * bw, y_at(v)
                tip = f"{x_labels[i]} {name}: {value_format.format(v)}"
                parts.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{bw:.1f}" height="{top + plot_h - y:.1f}" '
                    f'fill="{color}"><title>{_esc(tip)}</title></rect>'
                )
        else:
            points = " ".join(f"{x_at(i):.1f},{y_at(v):.1f}" for i, v in enumerate(values))
            parts.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2"/>')
            for i, v in enumerate(values):
                tip = f"{x_labels[i]} {name}: {value_format.format(v)}"
                parts.append(
                    f'<circle cx="{x_at(i):.1f}" cy="{y_at(v):.1f}" r="3" fill="{color}">'
                    f"<title>{_esc(tip)}</title></circle>"
                )
        if legend_h:
            ly = height + 12 * 0 + 16 * s
            parts.append(f'<rect x="{left}" y="{ly}" width="10" height="10" fill="{color}"/>')
            room = int((width - left - 24) / 6.5)  # characters that fit at 11 px, wide glyphs included
            parts.append(f'<text x="{left + 16}" y="{ly + 9}" {_FONT}>{_esc(_clip(name, room))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _clip(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------------------------
# The report's data
# --------------------------------------------------------------------------------------------


@dataclass
class WeeklyReport:
    """Everything the three renderings show, computed once."""

    week_start: date
    week_end: date  # exclusive
    generated_at: datetime
    success: pl.DataFrame  # metric, value, target, met, previous, change (from metrics.success_metrics)
    executors: pl.DataFrame  # metrics.executor_comparison of the week
    clusters: pl.DataFrame  # errors.cluster_table of the week, top TOP_CLUSTERS
    trend: pl.DataFrame  # errors.daily_trend of those clusters over the week's days
    cost_per_day: pl.DataFrame  # day, cost_usd, sessions
    backlog: pl.DataFrame  # insights.backlog_tasks, top TOP_TASKS
    planning: pl.DataFrame  # insights.task_planning_insights, failed tasks, top TOP_TASKS tasks
    totals: dict[str, Any] = field(default_factory=dict)
    partial: bool = False  # the week has not ended yet: never compared as if complete
    data_until: datetime | None = None  # for a partial week: the moment its numbers stop

    @property
    def label(self) -> str:
        last = self.week_end - timedelta(days=1)
        text = f"week of {self.week_start.isoformat()} – {last.isoformat()}"
        if self.partial and self.data_until is not None:
            text += f" (partial: to {self.data_until.strftime('%Y-%m-%d %H:%M')} UTC)"
        return text

    @property
    def window(self) -> str:
        """The report's windows, stated once for every rendering."""
        end = self.data_until if self.partial and self.data_until else _midnight(self.week_end)
        last = end - timedelta(minutes=1) if not self.partial else end
        this = f"{self.week_start.isoformat()} 00:00 – {last.strftime('%Y-%m-%d %H:%M')} UTC"
        prev = self.week_start - timedelta(days=7)
        before = f"{prev.isoformat()} 00:00 – {(self.week_start - timedelta(days=1)).isoformat()} 23:59 UTC"
        if self.partial:
            return f"Sessions that started {this} (partial week: not compared with the week before)."
        return f"Sessions that started {this}, compared with those that started {before}."


def _in_window(col: str, start: date, end: date) -> pl.Expr:
    lo = datetime(start.year, start.month, start.day, tzinfo=UTC)
    hi = datetime(end.year, end.month, end.day, tzinfo=UTC)
    return (pl.col(col) >= lo) & (pl.col(col) < hi)


def build_weekly_report(
    sessions: pl.DataFrame,
    occurrences: pl.DataFrame,
    events: pl.DataFrame | None,
    week_start: date,
    *,
    error_loops: pl.DataFrame | None = None,
    generated_at: datetime | None = None,
    now: datetime | None = None,
) -> WeeklyReport:
    """The report on the ISO week starting ``week_start`` (a Monday), with week-over-week changes.

    Sessions belong to the week they *started* in; errors to the week they happened in. Backlog and
    planning consider every attempt started before the week ended, for tasks active during the week:
    "still failing" is judged as of the report's week, not as of today. ``error_loops`` are the
    attempts with an error loop (``metrics.read_error_loop_alerts`` or ``metrics.detect_error_loops``).
    A week that has not ended at ``now`` is *partial*: labelled so, and its week-over-week changes are
    left out (a Monday morning is not a week to compare with the last one).
    """
    week_end = week_start + timedelta(days=7)
    prev_start = week_start - timedelta(days=7)
    week_sessions = sessions.filter(_in_window("started_at", week_start, week_end))
    prev_sessions = sessions.filter(_in_window("started_at", prev_start, week_start))
    week_occ = occurrences.filter(_in_window("timestamp", week_start, week_end))
    week_events = events.filter(pl.col("timestamp") < _midnight(week_end)) if events is not None else None

    # success_metrics' "last 7 days" before ``now`` is exactly this week when now = the week's end.
    two_weeks = pl.concat([prev_sessions, week_sessions], how="vertical")
    success = metrics_lib.success_metrics(
        two_weeks, now=_midnight(week_end) - timedelta(microseconds=1), error_loops=error_loops
    ).with_columns(
        pl.when(pl.col("last_7d").is_null())
        .then(None)
        .when(pl.col("comparator") == ">")
        .then(pl.col("last_7d") > pl.col("target"))
        .otherwise(pl.col("last_7d") < pl.col("target"))
        .alias("met")
    )
    executors = metrics_lib.executor_comparison(week_sessions)
    clusters = errors_lib.cluster_table(week_occ).head(TOP_CLUSTERS)
    days = [week_start + timedelta(days=i) for i in range(7)]
    trend = _week_trend(week_occ, clusters["cluster_id"].to_list(), days)
    cost_per_day = (
        pl.DataFrame({"day": days})
        .join(
            week_sessions.group_by(pl.col("started_at").dt.date().alias("day")).agg(
                pl.col("cost_usd").sum().alias("cost_usd"), pl.len().alias("sessions")
            ),
            on="day",
            how="left",
        )
        .with_columns(pl.col("cost_usd").fill_null(0.0), pl.col("sessions").fill_null(0))
        .sort("day")
    )
    active_tasks = week_sessions["task_id"].drop_nulls().unique().to_list()
    upto = sessions.filter(pl.col("started_at") < _midnight(week_end))
    upto_occ = occurrences.filter(pl.col("timestamp") < _midnight(week_end))
    backlog = insights.backlog_tasks(upto, upto_occ, week_events).filter(
        pl.col("task_id").is_in(active_tasks)
    )
    planning = insights.task_planning_insights(upto, upto_occ, week_events, failed_only=True).filter(
        pl.col("task_id").is_in(active_tasks)
    )
    top_planning_tasks = planning["task_id"].unique(maintain_order=True).head(TOP_TASKS).to_list()
    partial = now is not None and now < _midnight(week_end)
    if partial:
        success = success.with_columns(pl.lit(None, pl.Float64()).alias("wow_change"))
    closed = week_sessions.filter(~pl.col("is_open"))
    totals = {
        "sessions": week_sessions.height,
        "open_sessions": week_sessions.height - closed.height,
        "tasks": len(active_tasks),
        "errors": week_occ.height,
        "clusters": week_occ["cluster_id"].n_unique(),
        "cost_usd": float(week_sessions["cost_usd"].sum() or 0.0),
        "backlog_tasks": backlog.height,
    }
    return WeeklyReport(
        week_start=week_start,
        week_end=week_end,
        generated_at=generated_at or datetime.now(UTC),
        success=success,
        executors=executors,
        clusters=clusters,
        trend=trend,
        cost_per_day=cost_per_day,
        backlog=backlog.head(TOP_TASKS),
        planning=planning.filter(pl.col("task_id").is_in(top_planning_tasks)),
        totals=totals,
        partial=partial,
        data_until=now if partial else None,
    )


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _week_trend(occ: pl.DataFrame, cluster_ids: list[str], days: list[date]) -> pl.DataFrame:
    sub = occ.filter(pl.col("cluster_id").is_in(cluster_ids))
    labels = sub.select("cluster_id", "cluster_label").unique("cluster_id")
    counts = sub.group_by("cluster_id", "day").len("count")
    return (
        labels.join(pl.DataFrame({"day": days}), how="cross")
        .join(counts, on=["cluster_id", "day"], how="left")
        .with_columns(pl.col("count").fill_null(0).cast(pl.UInt32()))
        .sort("cluster_id", "day")
    )


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def _text(value: Any, limit: int = 100) -> str:
    """A value from the logs, made safe to show: redacted, one line, clipped."""
    if value is None:
        return ""
    return _clip(redact(str(value)), limit)


def _md(value: Any, limit: int = 100) -> str:
    """A value from the logs as Markdown text that renders as itself (``<URL>`` stays visible)."""
    return md.escape(_text(value, limit))


def _fmt_pct100(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}%"


def _fmt_num(value: float | None, pattern: str) -> str:
    return "–" if value is None else pattern.format(value)


def _causes(root_causes: list[dict[str, Any]] | None) -> str:
    """``dependency: 2, api_key: 1``, each category redacted alone (joined, it reads as key: value)."""
    return ", ".join(f"{_text(c['category'], 40)}: {c['count']}" for c in (root_causes or []))


def _success_rows(report: WeeklyReport) -> list[list[str]]:
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


_SUCCESS_HEAD = ["Metric", "This week", "Target", "Met", "Previous week", "Change"]
_EXEC_HEAD = ["Executor", "Sessions", "Success %", "First-shot %", "Avg Time", "Avg Cost", "Errors/session"]
_CLUSTER_HEAD = ["Cluster", "Category", "Occurrences", "Tasks", "First seen", "Last seen", "Sample"]
_BACKLOG_HEAD = ["Task", "Why", "Status", "Attempts", "Root causes", "Cost"]


def _exec_rows(report: WeeklyReport) -> list[list[str]]:
    return [
        [
            _text(r["executor"]),
            str(r["sessions"]),
            _fmt_pct100(r["success_pct"]),
            _fmt_pct100(r["first_shot_pct"]),
            _fmt_num(r["avg_duration_s"], "{:.1f}s"),
            _fmt_num(r["avg_cost_usd"], "${:.3f}"),
            _fmt_num(r["errors_per_session"], "{:.2f}"),
        ]
        for r in report.executors.iter_rows(named=True)
    ]


def _cluster_rows(report: WeeklyReport, sample_limit: int) -> list[list[str]]:
    return [
        [
            _text(r["cluster_label"], 80),
            _text(r["category"]),
            str(r["occurrences"]),
            str(r["tasks"]),
            r["first_seen"].strftime("%Y-%m-%d %H:%M") if r["first_seen"] else "",
            r["last_seen"].strftime("%Y-%m-%d %H:%M") if r["last_seen"] else "",
            _text(r["sample_message"], sample_limit),
        ]
        for r in report.clusters.iter_rows(named=True)
    ]


def _backlog_rows(report: WeeklyReport) -> list[list[str]]:
    return [
        [
            _text(r["task_title"] or r["task_id"], 70),
            r["reason"].replace("+", " + ").replace("_", " "),
            _text(r["status"]),
            str(r["attempts"]),
            _clip(_causes(r["root_causes"]), 100),
            f"${r['total_cost_usd'] or 0:.2f}",
        ]
        for r in report.backlog.iter_rows(named=True)
    ]


def _planning_blocks(report: WeeklyReport) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for (_task,), group in report.planning.group_by(["task_id"], maintain_order=True):
        first = group.row(0, named=True)
        blocks.append(
            {
                "title": _text(first["task_title"] or first["task_id"], 90),
                "status": _text(first["status"]),
                "attempts": first["attempts"],
                "causes": [(_text(c["category"], 40), c["count"]) for c in first["root_causes"] or []],
                "improvements": [
                    (r["improvement"], _text(r["evidence"], 160)) for r in group.iter_rows(named=True)
                ],
            }
        )
    return blocks


def _md_table(head: list[str], rows: list[list[str]]) -> str:
    if not rows:
        return "_none_"
    lines = ["| " + " | ".join(md.escape(h) for h in head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines)


def _headline(report: WeeklyReport) -> str:
    t = report.totals
    return ("Partial week so far — " if report.partial else "") + (
        f"Sessions: {t['sessions']} ({t['open_sessions']} still open) · Tasks: {t['tasks']} · "
        f"Errors: {t['errors']} in {t['clusters']} clusters · Cost: ${t['cost_usd']:.2f} · "
        f"Backlog: {t['backlog_tasks']} tasks"
    )


def render_markdown(report: WeeklyReport) -> str:
    """The report as Markdown (Dagster renders it in the asset's metadata)."""
    out = [
        f"# Agent work — weekly report, {report.label}",
        "",
        _headline(report),
        "",
        md.escape(report.window),
        "",
        "## Success metrics vs targets",
        _md_table(_SUCCESS_HEAD, [[_md(c) for c in row] for row in _success_rows(report)]),
        "",
        "## Executor comparison",
        _md_table(_EXEC_HEAD, [[_md(c) for c in row] for row in _exec_rows(report)]),
        "",
        f"## Top {TOP_CLUSTERS} error clusters",
        _md_table(_CLUSTER_HEAD, [[_md(c, 80) for c in row] for row in _cluster_rows(report, 80)]),
        "",
        f"## Backlog ({report.totals['backlog_tasks']} tasks; top {TOP_TASKS})",
        _md_table(_BACKLOG_HEAD, [[_md(c) for c in row] for row in _backlog_rows(report)]),
        "",
        "## Task planning insights (failed tasks)",
    ]
    blocks = _planning_blocks(report)
    if not blocks:
        out.append("_none_")
    for b in blocks:
        out += ["", f"**{_md(b['title'])}** — status {_md(b['status'])}, {b['attempts']} attempts  "]
        if b["causes"]:
            out.append("Root causes: " + ", ".join(f"{_md(c)}: {n}" for c, n in b["causes"]) + "  ")
        out += [f"- 💡 {_md(i)} ({_md(e, 160)})" for i, e in b["improvements"]]
    out += ["", f"_Generated {report.generated_at.strftime('%Y-%m-%d %H:%M UTC')}._"]
    return "\n".join(out)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:24px auto;max-width:1000px;color:#222}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}th,td{border:1px solid #ddd;padding:4px 8px;
text-align:left;vertical-align:top}th{background:#f5f5f5}td.n{text-align:right;font-variant-numeric:tabular-nums}
.charts{display:flex;flex-wrap:wrap;gap:24px}.muted{color:#777;font-size:12px}code{font-size:12px}
"""


def _html_table(head: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    if not rows:
        return "<p class='muted'>none</p>"
    numeric = numeric or set()
    th = "".join(f"<th>{_esc(h)}</th>" for h in head)
    body = "".join(
        "<tr>"
        + "".join(f"<td{' class=n' if i in numeric else ''}>{_esc(c)}</td>" for i, c in enumerate(r))
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def render_charts(report: WeeklyReport) -> list[str]:
    """The three SVG charts: success by executor, cost per day, top clusters' daily trend."""
    ex = report.executors.filter(pl.col("success_pct").is_not_null())
    success_chart = svg_bar_chart(
        [_text(e, 20) for e in ex["executor"].to_list()],
        [v / 100 for v in ex["success_pct"].to_list()],
        title="Success rate by executor",
        max_value=1.0,
        target=next(t.target for t in metrics_lib.TARGETS if t.metric == "success_rate"),
    )
    cost = report.cost_per_day
    cost_chart = svg_line_chart(
        [d.strftime("%a %d") for d in cost["day"].to_list()],
        {"cost (USD)": cost["cost_usd"].to_list()},
        title="Cost per day (USD)",
        value_format="${:.2f}",
        bars=True,
    )
    series: dict[str, list[float]] = {}
    days = [report.week_start + timedelta(days=i) for i in range(7)]
    for cid in report.clusters["cluster_id"].to_list():
        part = report.trend.filter(pl.col("cluster_id") == cid).sort("day")
        if part.height:
            series[_text(part["cluster_label"][0], 80)] = [float(v) for v in part["count"].to_list()]
    trend_chart = svg_line_chart(
        [d.strftime("%a %d") for d in days],
        series,
        title=f"Top {TOP_CLUSTERS} error clusters per day",
        value_format="{:g}",  # grid lines fall on quarters of the axis: 2.5 must not print as 2
    )
    return [success_chart, cost_chart, trend_chart]


def render_html(report: WeeklyReport) -> str:
    """A standalone HTML page: inline CSS and SVG only, nothing fetched from the network."""
    blocks = []
    for b in _planning_blocks(report):
        causes = ", ".join(f"{_esc(c)}: {n}" for c, n in b["causes"])
        items = "".join(
            f"<li>💡 {_esc(i)} <span class='muted'>({_esc(e)})</span></li>" for i, e in b["improvements"]
        )
        blocks.append(
            f"<h3>{_esc(b['title'])}</h3><p>Status: {_esc(b['status'])} | Attempts: {b['attempts']}"
            f"{'<br>Root cause categories: ' + causes if causes else ''}</p><ul>{items}</ul>"
        )
    charts = "".join(f"<div>{svg}</div>" for svg in render_charts(report))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Agent work — weekly report, {_esc(report.label)}</title>
<style>{_CSS}</style></head>
<body>
<h1>Agent work — weekly report, {_esc(report.label)}</h1>
<p>{_esc(_headline(report))}</p>
<p class="muted">{_esc(report.window)}</p>
<div class="charts">{charts}</div>
<h2>Success metrics vs targets</h2>
{_html_table(_SUCCESS_HEAD, _success_rows(report), {1, 4, 5})}
<h2>Executor comparison</h2>
{_html_table(_EXEC_HEAD, _exec_rows(report), {1, 2, 3, 4, 5, 6})}
<h2>Top {TOP_CLUSTERS} error clusters</h2>
{_html_table(_CLUSTER_HEAD, _cluster_rows(report, 160), {2, 3})}
<h2>Backlog ({report.totals["backlog_tasks"]} tasks; top {TOP_TASKS})</h2>
{_html_table(_BACKLOG_HEAD, _backlog_rows(report), {3, 5})}
<h2>Task planning insights (failed tasks)</h2>
{"".join(blocks) or "<p class='muted'>none</p>"}
<p class="muted">Generated {report.generated_at.strftime("%Y-%m-%d %H:%M UTC")} by agent-pipelines.</p>
</body></html>
"""


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
            f"  {r['occurrences']} × {_text(r['cluster_label'], 60)}"
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
    target.parent.mkdir(parents=True, exist_ok=True)
    for path, text in ((target, render_html(report)), (target.with_suffix(".md"), render_markdown(report))):
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    return target


__all__ = [
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
