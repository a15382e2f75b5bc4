"""``agent-pipelines summary``: the original PowerShell logger's ``Show-AgentWorkSummary -LastNDays
N``.

Same output layout as the original (overall metrics, by executor, top errors), computed by the same
library functions as the assets; ``--json`` prints one object for scripts. The window is the UI's
(``agent_pipelines.core.windows``): it ends at the newest event in the logs unless ``--now`` says
otherwise, and is stated on every output ("last 7 days to 2026-11-29 23:59 UTC").
"""

from __future__ import annotations

import argparse
from typing import Any

import polars as pl

from agent_pipelines.analytics import errors as errors_lib
from agent_pipelines.analytics import metrics
from agent_pipelines.cli.common import CommandError, add_logs_dir, fail
from agent_pipelines.cli.loading import Loaded, add_now_option, load, warn_if_empty
from agent_pipelines.cli.tables import dump_json, pct, usd
from agent_pipelines.core.windows import SESSION_RULE
from agent_pipelines.text.redaction import redact

TOP_ERRORS = 5


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "summary",
        help="overall metrics, by executor and top errors over the last N days",
        description="The original PowerShell logger's Show-AgentWorkSummary: "
        "sessions, success rate, duration, cost and "
        "errors over the last N days, by executor, with the most frequent error clusters.",
    )
    parser.add_argument(
        "--last-n-days", type=float, default=7, metavar="N", help="window length in days (default 7)"
    )
    parser.add_argument(
        "--top", type=int, default=TOP_ERRORS, metavar="K", help="top errors shown (default 5)"
    )
    add_now_option(parser)
    add_logs_dir(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def summarize(loaded: Loaded, top: int = TOP_ERRORS) -> dict[str, Any]:
    """The summary object (``--json``): rates are 0-1, over closed sessions; open ones are counted apart."""
    s = loaded.sessions
    closed = s.filter(~pl.col("is_open"))
    by_exec = metrics.executor_comparison(s)
    clusters = errors_lib.cluster_table(loaded.occurrences, with_trend=False).head(top)
    duration = closed["duration_ms"].mean() if closed.height else None
    return {
        "last_n_days": None
        if loaded.cutoff is None
        else (loaded.now - loaded.cutoff).total_seconds() / 86400,
        "window": loaded.window.describe(),
        "window_start": loaded.cutoff,
        "window_end": loaded.now,
        "total_sessions": s.height,
        "closed_sessions": closed.height,
        "open_sessions": s.height - closed.height,
        "success_rate": (int(closed["succeeded"].sum()) / closed.height) if closed.height else None,
        "avg_duration_s": None if duration is None else float(duration) / 1000,  # type: ignore[arg-type]
        "total_cost_usd": float(s["cost_usd"].fill_null(0.0).sum()) if s.height else 0.0,
        "total_errors": loaded.occurrences.height,
        "by_executor": {
            r["executor"]: {
                "sessions": r["sessions"],
                "success_rate": None if r["success_pct"] is None else r["success_pct"] / 100,
            }
            for r in by_exec.iter_rows(named=True)
        },
        "top_errors": [
            {
                "fingerprint": redact(r["cluster_label"]),
                "count": r["occurrences"],
                "cluster_id": r["cluster_id"],
                "category": r["category"],
            }
            for r in clusters.iter_rows(named=True)
        ],
    }


def render(summary: dict[str, Any]) -> str:
    days = summary["last_n_days"]
    span = "All Days" if days is None else f"Last {days:g} Days"
    avg = summary["avg_duration_s"]
    lines = [
        f"=== Agent Work Summary ({span}) ===",
        f"Window: {summary['window']} ({SESSION_RULE})",
        "",
        "Overall Metrics:",
        f"  Total Sessions: {summary['total_sessions']}"
        + (f" ({summary['open_sessions']} still open)" if summary["open_sessions"] else ""),
        f"  Success Rate: {pct(summary['success_rate'])}",
        f"  Avg Duration: {'n/a' if avg is None else f'{avg:.1f}s'}",
        f"  Total Cost: {usd(summary['total_cost_usd'])}",
        f"  Total Errors: {summary['total_errors']}",
        "",
        "By Executor:",
    ]
    lines += [
        f"  {name}: {v['sessions']} sessions, {pct(v['success_rate'])} success"
        for name, v in summary["by_executor"].items()
    ] or ["  (none)"]
    lines += ["", "Top Errors:"]
    lines += [f"  {e['fingerprint']}: {e['count']} occurrences" for e in summary["top_errors"]] or [
        "  (none)"
    ]
    return "\n".join(lines)


def _with_import_hint(message: str, logs_dir: str | None) -> str:
    from agent_pipelines.ingest.importers.sniff import with_import_hint

    return with_import_hint(message, logs_dir)


def run(args: argparse.Namespace) -> int:
    if args.top < 1:
        return fail("--top must be at least 1")
    try:
        loaded = load(args, days=args.last_n_days, now_option=args.now)
    except CommandError as exc:
        return fail(_with_import_hint(str(exc), args.logs_dir))
    warn_if_empty(loaded)
    summary = summarize(loaded, args.top)
    print(dump_json(summary) if args.json else render(summary))
    return 0
