"""``agent-pipelines status``: how big the log folder is, what days it covers, and what comes next."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from agent_pipelines.cli.common import add_data_dir, add_logs_dir, data_path, demo_logs_dir, fail, print_json
from agent_pipelines.core import paths, reader
from agent_pipelines.core.archive import Kind, archived, staging_root
from agent_pipelines.ops.rotation import SCHEDULE_CRON, SCHEDULE_TIMEZONE, human_size, inventory


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "status",
        help="log folder size by kind, days covered, quarantine, next rotation",
        description=(
            "Show the log folder's size by kind (live files, transcripts, archives), the oldest and "
            "newest day it holds (live and archived), how many lines are in the quarantine, and when "
            "the weekly rotation runs next."
        ),
    )
    add_logs_dir(parser)
    add_data_dir(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def next_rotation(now: datetime | None = None) -> datetime:
    """The next tick of the rotation schedule after ``now``, from Dagster's own cron iterator."""
    from agent_pipelines.orchestration.dagster_internals import cron_string_iterator

    now = now or datetime.now(UTC)
    ticks = cron_string_iterator(now.timestamp(), SCHEDULE_CRON, SCHEDULE_TIMEZONE)
    return next(t for t in ticks if t > now)  # strictly after: at 03:00 sharp the next is a week on


def folder_status(logs_root: Path, data_root: Path, now: datetime | None = None) -> dict[str, Any]:
    """Everything ``status`` prints, as plain data."""
    days = set(reader.partition_days(logs_root))
    days.update(d for d in (_day(p) for p, _ in archived(logs_root, Kind.STREAM)) if d)
    staged = [p.name for p in staging_root(logs_root).glob("*") if p.is_dir()]
    try:
        from agent_pipelines.core.quarantine import quarantine_summary

        quarantine = quarantine_summary(data_root)
    except ImportError:  # pragma: no cover - the quarantine store ships with the package
        quarantine = {"quarantined": None, "reasons": {}}
    return {
        "logs_dir": str(logs_root),
        "data_dir": str(data_root),
        "sizes": inventory(logs_root),
        "oldest_day": min(days).isoformat() if days else None,
        "newest_day": max(days).isoformat() if days else None,
        "legacy_stream_file": (logs_root / paths.STREAM_FILE).exists(),
        "quarantined": quarantine["quarantined"],
        "quarantine_reasons": quarantine["reasons"],
        "interrupted_rotation": staged,
        "next_rotation": next_rotation(now).isoformat(),
    }


def _day(period: str) -> date | None:
    try:
        return date.fromisoformat(period)
    except ValueError:
        return None


def run(args: argparse.Namespace) -> int:
    data_root = data_path(args)
    configured = paths.logs_dir(args.logs_dir, data_root)
    demo = demo_logs_dir(args)  # the folder the UI shows, as every command
    logs_root = demo or configured
    if demo is not None:
        print(
            f"agent-pipelines: no logs in {configured}: the demo logs in {demo} "
            "(as the UI shows; --logs-dir to choose)",
            file=sys.stderr,
        )
    if not logs_root.is_dir():
        return fail(f"log folder {logs_root} does not exist (set --logs-dir or AGENT_WORK_LOGS_DIR)")
    status = folder_status(logs_root, data_root)
    if args.json:
        print_json(status)
        return 0
    print(f"Log folder: {logs_root}")
    for group, v in status["sizes"].items():
        if v["files"] or group == "total":
            print(f"  {group:<20} {v['files']:>7,} files  {human_size(v['bytes']):>10}")
    span = f"{status['oldest_day']} .. {status['newest_day']}" if status["oldest_day"] else "no daily files"
    print(f"  days (live + archived): {span}")
    if status["legacy_stream_file"]:
        print(
            f"  the original logger's single file {paths.STREAM_FILE} is present (split by the next rotation)"
        )
    print(f"Quarantine ({paths.quarantine_dir(data_root)}): {status['quarantined']:,} lines")
    for reason, n in sorted(status["quarantine_reasons"].items()):
        print(f"  {reason:<30} {n:,}")
    if status["interrupted_rotation"]:
        print(f"Interrupted rotation waiting to be finished: {', '.join(status['interrupted_rotation'])}")
    print(f"Next scheduled rotation: {status['next_rotation']} (cron '{SCHEDULE_CRON}' UTC)")
    return 0
