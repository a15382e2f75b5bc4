"""The report's SVG charts: success by executor, cost per day, the top error clusters' daily trend.

Drawn here in a few lines each rather than with a plotting library, so the HTML file opens offline —
from an email attachment or an air-gapped box — with no JavaScript and no external URL. Every text
that reaches an SVG goes through :func:`_esc`; labels from the logs are redacted before
(:func:`agent_pipelines.analytics.report.rows.safe_text`).
"""

from __future__ import annotations

import html
from datetime import timedelta
from typing import Any

import polars as pl

from agent_pipelines.analytics import metrics as metrics_lib
from agent_pipelines.analytics.report.build import TOP_CLUSTERS, WeeklyReport
from agent_pipelines.analytics.report.rows import clip, safe_text

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
            parts.append(f'<text x="{left + 16}" y="{ly + 9}" {_FONT}>{_esc(clip(name, room))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_charts(report: WeeklyReport) -> list[str]:
    """The three SVG charts: success by executor, cost per day, top clusters' daily trend."""
    ex = report.executors.filter(pl.col("success_pct").is_not_null())
    success_chart = svg_bar_chart(
        [safe_text(e, 20) for e in ex["executor"].to_list()],
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
            series[safe_text(part["cluster_label"][0], 80)] = [float(v) for v in part["count"].to_list()]
    trend_chart = svg_line_chart(
        [d.strftime("%a %d") for d in days],
        series,
        title=f"Top {TOP_CLUSTERS} error clusters per day",
        value_format="{:g}",  # grid lines fall on quarters of the axis: 2.5 must not print as 2
    )
    return [success_chart, cost_chart, trend_chart]
