"""``agent-pipelines analyze``: the original Node analytics CLI (``analyze-agent-work.mjs``), on any log
folder.

The commands read the log folder directly (``reader.read_logs``) and call the same library
functions as the Dagster assets (``metrics``, ``errors``, ``insights``, ``report``), so they work on
a folder no asset has ever been materialized for and print the numbers the UI shows.

Time windows are the UI's, stated by every output (``cli.loading``). ``--weekly-report`` reports
the last complete ISO week (what the UI builds on start and the Monday 08:00 UTC schedule
rebuilds), or the week containing ``--week DAY``.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime
from typing import Any

import polars as pl

from agent_pipelines.analytics import errors as errors_lib
from agent_pipelines.analytics import insights, metrics, report
from agent_pipelines.cli import loading
from agent_pipelines.cli.common import CommandError, add_data_dir, add_logs_dir, data_path, fail
from agent_pipelines.cli.loading import (
    Loaded,
    add_now_option,
    error_loops,
    load,
    rows,
    warn_if_empty,
    window_line,
)
from agent_pipelines.cli.tables import box_table, cell, dump_json, iso, pct, usd
from agent_pipelines.core import windows
from agent_pipelines.text.redaction import redact

# ``analyze --help`` ends with the window rules (``cli.loading``'s) and which week a report covers.
_EPILOG = (
    "Time windows "
    + (loading.__doc__ or "").split("**Time windows**", 1)[-1].strip()
    + " ``--weekly-report`` reports the last complete ISO week (what the UI builds on start and the"
    " Monday 08:00 UTC schedule rebuilds), or the week containing ``--week DAY``."
)

# --------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "analyze",
        help="backlog, error clusters, executor comparison, task planning, weekly report",
        description="Offline analytics over a log folder (the original Node analytics CLI, "
        "analyze-agent-work.mjs). "
        "Exactly one analysis per call.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--backlog-tasks",
        type=int,
        metavar="N",
        help="the N tasks with the most attempts among those with >3 attempts or still failing",
    )
    which.add_argument("--error-clustering", action="store_true", help="error clusters, most frequent first")
    which.add_argument(
        "--executor-comparison",
        nargs="*",
        metavar="EXEC",
        help="compare executors (all, or the ones named)",
    )
    which.add_argument("--task-planning", action="store_true", help="task planning improvements per task")
    which.add_argument("--weekly-report", action="store_true", help="the weekly report (Markdown + HTML)")
    which.add_argument(
        "--correlation",
        action="store_true",
        help="error clusters vs executor, model, prompt type, title words",
    )
    parser.add_argument("--days", type=float, metavar="D", help="only the last D days before --now")
    parser.add_argument("--top", type=int, default=10, metavar="K", help="show K rows (default 10)")
    parser.add_argument("--failed-only", action="store_true", help="--task-planning: tasks never succeeded")
    parser.add_argument(
        "--by", choices=("executor", "model"), default="executor", help="--executor-comparison: group by"
    )
    parser.add_argument("--week", metavar="DAY", help="--weekly-report: the ISO week containing DAY")
    parser.add_argument("--no-html", action="store_true", help="--weekly-report: do not write the HTML file")
    add_now_option(parser)
    add_logs_dir(parser)
    add_data_dir(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.top is not None and args.top < 1:
        return fail("--top must be at least 1")
    if args.backlog_tasks is not None and args.backlog_tasks < 1:
        return fail("--backlog-tasks must be at least 1")
    try:
        loaded = load(args, days=args.days, now_option=args.now)
        warn_if_empty(loaded)
        if args.backlog_tasks is not None:
            return backlog(loaded, args)
        if args.error_clustering:
            return clustering(loaded, args)
        if args.executor_comparison is not None:
            return comparison(loaded, args)
        if args.task_planning:
            return planning(loaded, args)
        if args.correlation:
            return correlation(loaded, args)
        return weekly(loaded, args)
    except CommandError as exc:
        return fail(str(exc))


def _causes(value: list[dict[str, Any]] | None) -> str:
    return ", ".join(f"{redact(c['category'])}: {c['count']}" for c in value or [])


def backlog(loaded: Loaded, args: argparse.Namespace) -> int:
    table = insights.backlog_tasks(loaded.sessions, loaded.occurrences, loaded.events)
    shown = table.head(args.backlog_tasks)
    if args.json:
        print(dump_json({"window": loaded.window.describe(), "total": table.height, "tasks": rows(shown)}))
        return 0
    print(
        f"=== Backlog: {table.height} tasks with >{insights.BACKLOG_MIN_ATTEMPTS} attempts "
        "or still failing ==="
    )
    print(window_line(loaded))
    print(f"(showing {shown.height}; most attempts first)\n")
    print(
        box_table(
            ["Task", "Title", "Why", "Status", "Attempts", "Executors", "Cost", "Root causes", "Top errors"],
            [
                [
                    r["task_id"],
                    redact(r["task_title"] or ""),
                    str(r["reason"] or "").replace("+", " + ").replace("_", " "),
                    r["status"],
                    r["attempts"],
                    r["executors"],
                    usd(r["total_cost_usd"]),
                    _causes(r["root_causes"]),
                    [redact(c) for c in r["top_clusters"]],
                ]
                for r in shown.iter_rows(named=True)
            ],
            limit=40,
        )
    )
    return 0


def clustering(loaded: Loaded, args: argparse.Namespace) -> int:
    table = errors_lib.cluster_table(loaded.occurrences)
    shown = table.head(args.top)
    if args.json:
        print(
            dump_json(
                {
                    "window": loaded.window.describe(),
                    "total_errors": loaded.occurrences.height,
                    "clusters": table.height,
                    "top": rows(shown),
                }
            )
        )
        return 0
    print("=== Error Clustering Analysis ===")
    print(window_line(loaded))
    print(f"{loaded.occurrences.height} errors in {table.height} clusters (showing {shown.height})\n")
    for r in shown.iter_rows(named=True):
        print(
            f"{cell(redact(r['cluster_label']), 100)}: "
            f"{r['occurrences']} occurrences across {r['tasks']} tasks"
        )
        print(f"  Cluster: {r['cluster_id']}  Category: {r['category'] or 'uncategorized'}  Executors: "
              f"{', '.join(r['executors'])}")  # fmt: skip
        if r["fingerprint"]:
            print(f"  Template: {cell(redact(r['template']), 100)}")
        print(f"  Sample: {cell(r['sample_message'], 100)}")
        print(f"  First: {iso(r['first_seen'])}, Last: {iso(r['last_seen'])}\n")
    return 0


def comparison(loaded: Loaded, args: argparse.Namespace) -> int:
    names = args.executor_comparison or None
    table = metrics.executor_comparison(loaded.sessions, by=args.by, executors=names)
    if args.json:
        key = "executors" if args.by == "executor" else "models"
        print(dump_json({"window": loaded.window.describe(), "by": args.by, key: rows(table)}))
        return 0
    if names and table.is_empty():
        raise CommandError(f"no sessions for {', '.join(names)}")
    label = "Executor" if args.by == "executor" else "Model"
    print(window_line(loaded))
    print(
        box_table(
            [
                label,
                "Sessions",
                "Success %",
                "First-shot %",
                "Avg Time",
                "Avg Cost",
                "Total Cost",
                "Errors/sess",
            ],
            [
                [
                    r[args.by],
                    r["sessions"],
                    _pct100(r["success_pct"]),
                    _pct100(r["first_shot_pct"]),
                    "n/a" if r["avg_duration_s"] is None else f"{r['avg_duration_s']:.1f}s",
                    "n/a" if r["avg_cost_usd"] is None else f"${r['avg_cost_usd']:.3f}",
                    usd(r["total_cost_usd"]),
                    "n/a" if r["errors_per_session"] is None else f"{r['errors_per_session']:.2f}",
                ]
                for r in table.iter_rows(named=True)
            ],
        )
    )
    return 0


def _pct100(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}%"


def planning(loaded: Loaded, args: argparse.Namespace) -> int:
    table = insights.task_planning_insights(
        loaded.sessions, loaded.occurrences, loaded.events, failed_only=args.failed_only
    )
    tasks = table["task_id"].unique(maintain_order=True)
    shown = table.filter(pl.col("task_id").is_in(tasks.head(args.top).to_list()))
    if args.json:
        print(dump_json({"window": loaded.window.describe(), "tasks": tasks.len(), "insights": rows(shown)}))
        return 0
    print(window_line(loaded) + "\n")
    if shown.is_empty():
        print("No planning issues found" + (" among failed tasks." if args.failed_only else "."))
        return 0
    for (_task,), group in shown.group_by(["task_id"], maintain_order=True):
        first = group.row(0, named=True)
        print(f"=== Task: {redact(first['task_title'] or first['task_id'])} ===")
        print(f"Status: {first['status']} | Attempts: {first['attempts']}\n")
        if first["root_causes"]:
            print("Root Cause Categories:")
            for c in first["root_causes"]:
                print(f"  {redact(c['category'])}: {c['count']}")
            print()
        print("💡 Planning Improvements:")
        for r in group.iter_rows(named=True):
            print(f"  - {r['improvement']}  [{redact(r['evidence'])}]")
        print()
    print(f"({tasks.len()} tasks with planning issues; showing {min(args.top, tasks.len())})")
    return 0


def correlation(loaded: Loaded, args: argparse.Namespace) -> int:
    table = insights.correlation(loaded.sessions, loaded.occurrences)
    shown = table.head(args.top)
    if args.json:
        print(
            dump_json(
                {"window": loaded.window.describe(), "total": table.height, "correlations": rows(shown)}
            )
        )
        return 0
    print("=== Error clusters vs task characteristics (lift over base rate) ===")
    print(window_line(loaded) + "\n")
    print(
        box_table(
            ["Cluster", "Characteristic", "Support", "Rate", "Base rate", "Lift"],
            [
                [
                    redact(r["cluster_label"]),
                    f"{r['dimension']}={r['value']}",
                    r["support"],
                    pct(r["rate"]),
                    pct(r["base_rate"]),
                    f"{r['lift']:.2f}x",
                ]
                for r in shown.iter_rows(named=True)
            ],
            limit=50,
        )
    )
    return 0


def weekly(loaded: Loaded, args: argparse.Namespace) -> int:
    # A week is complete by the wall clock (or by an explicit --now TIME), whatever the window's end.
    wall = datetime.now(UTC) if args.now in ("", "latest", "now") else loaded.now
    if args.week:
        try:
            day = date.fromisoformat(args.week)
        except ValueError:
            raise CommandError(f"--week: not a date (YYYY-MM-DD): {args.week!r}") from None
        week_start = windows.monday(day)
    else:
        week_start = windows.last_complete_week(wall, loaded.now)
    weekly_report = report.build_weekly_report(
        loaded.sessions,
        loaded.occurrences,
        loaded.events,
        week_start,
        error_loops=error_loops(loaded, args.settings.error_loop_threshold),
        now=wall,
    )
    html_path = None if args.no_html else report.write_report(weekly_report, data_path(args))
    if args.json:
        r = weekly_report
        print(
            dump_json(
                {
                    "week_start": r.week_start,
                    "week_end": r.week_end,
                    "totals": r.totals,
                    "success_metrics": rows(r.success),
                    "executors": rows(r.executors),
                    "top_clusters": rows(r.clusters),
                    "backlog": rows(r.backlog),
                    "planning": rows(r.planning),
                    "html": str(html_path) if html_path else None,
                }
            )
        )
    else:
        print(report.render_markdown(weekly_report))
        if html_path:
            print(f"\nHTML report: {html_path}", file=sys.stderr)
    if weekly_report.totals["sessions"] == 0:
        print(
            f"agent-pipelines: no sessions in the {weekly_report.label}; for old or generated logs "
            "use --now latest or --week DAY",
            file=sys.stderr,
        )
    return 0
