"""``agent-pipelines validate``: check a log folder against the event contract."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent_pipelines.cli.common import CommandError, add_logs_dir, existing_logs_dir, fail, print_json
from agent_pipelines.core.reader import read_logs


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check a log folder against the event contract",
        description=(
            "Read every stream file of a log folder (daily partitions and the original PowerShell logger's "
            "agent-work-stream.jsonl) "
            "and report valid lines and quarantined ones with their reasons. A last line without newline "
            "in today's file is left alone: a writer may still be finishing it."
        ),
    )
    add_logs_dir(parser)
    parser.add_argument(
        "--json",
        action="store_true",
        help='print {"valid": N, "quarantined": M, "reasons": {...}, "warnings": [...]}',
    )
    parser.add_argument(
        "--show", type=int, default=10, metavar="N", help="list the first N bad lines (default 10)"
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 when any line is quarantined"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        root = existing_logs_dir(args)
    except CommandError as exc:
        return fail(str(exc))
    result = read_logs(root, final_before=datetime.now(UTC).date())
    summary: dict[str, Any] = {
        "valid": result.events.height,
        "quarantined": result.quarantine.height,
        "reasons": result.reasons,
        "warnings": result.warnings,
    }
    hint = _foreign_hint(root, summary)
    if args.json:
        if hint:
            summary["hint"] = hint
        print_json(summary)
    else:
        print(f"Log folder: {root}")
        print(f"  valid events:      {summary['valid']:,}")
        print(f"  quarantined lines: {summary['quarantined']:,}")
        for reason, count in summary["reasons"].items():
            print(f"    {reason:<20} {count:,}")
        for warning in result.warnings:
            print(f"  warning: {warning}")
        if result.pending_bytes:
            print(f"  half-written last lines left for the next read: {result.pending_bytes:,} bytes")
        if result.quarantine.height and args.show:
            print("\nFirst quarantined lines:")
            for row in result.quarantine.head(args.show).iter_rows(named=True):
                print(f"  {row['source_file']}:{row['line_number']}  {row['reason']}: {row['detail']}")
        if hint:
            print(f"\n{hint}")
    return 1 if args.strict and summary["quarantined"] else 0


def _foreign_hint(root: Path, summary: dict) -> str | None:
    """Claude Code / Codex transcripts (or other JSON lines) where events belong: which import to run."""
    from agent_pipelines.ingest.importers.sniff import foreign_hint

    return foreign_hint(root) if summary["quarantined"] or not summary["valid"] else None
