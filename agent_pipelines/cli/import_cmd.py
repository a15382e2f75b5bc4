"""``agent-pipelines import SOURCE [PATH ...]``: transcripts you already have, as events.

Reads only what is new since the last import (per file identity and offset), so it can run from
cron as often as you like; the ``transcript_import_sensor`` does the same every few seconds.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from agent_pipelines.cli.common import (
    CommandError,
    add_data_dir,
    add_logs_dir,
    data_path,
    fail,
    import_logs_dir,
    print_json,
)
from agent_pipelines.core import object_store, paths
from agent_pipelines.core.contract import parse_timestamp
from agent_pipelines.ingest.importers import SOURCES, ImportReport, run_import
from agent_pipelines.ingest.importers.core import COST_MODES, IDLE_CLOSE_S, STALE_S
from agent_pipelines.ingest.importers.pricing import PriceTable

DESCRIPTIONS = {
    "claude-code": "Claude Code transcripts (default: $CLAUDE_CONFIG_DIR/projects, else "
    "~/.config/claude/projects and ~/.claude/projects)",
    "codex": "Codex CLI rollouts (default: ${CODEX_HOME:-~/.codex}/sessions and archived_sessions)",
    "gemini-cli": "Gemini CLI chats (default: ~/.gemini/tmp, the chats/session-*.json files)",
    "copilot-cli": "GitHub Copilot CLI sessions (default: ${COPILOT_HOME:-~/.copilot}/session-state)",
    "opencode": "OpenCode sessions (default: ${OPENCODE_DATA_DIR:-~/.local/share/opencode}/storage)",
    "swe-agent": "SWE-agent trajectories, *.traj (default: ./trajectories)",
    "mini-swe-agent": "mini-swe-agent trajectories, *.traj.json (default: ~/.config/mini-swe-agent)",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "import",
        help="import agent transcripts (Claude Code, Codex, Gemini CLI, Copilot CLI, OpenCode, SWE-agent, "
        "mini-swe-agent) into the log folder",
        description="Turn coding agents' sessions into events of the log folder (the day's stream "
        "partition, the attempt's transcript, agent-errors.jsonl, agent-metrics.jsonl), with tokens and "
        "costs. Only what is new since the last import is read.",
    )
    sources = parser.add_subparsers(dest="source", metavar="SOURCE")
    sources.required = True
    for name, text in DESCRIPTIONS.items():
        sub = sources.add_parser(name, help=text, description=f"Import {text}.")
        sub.add_argument("paths", nargs="*", metavar="PATH", help="files or folders (read recursively)")
        add_logs_dir(sub)
        add_data_dir(sub)
        sub.add_argument(
            "--prices",
            metavar="FILE",
            help="JSON price file that overrides the bundled table (default: $AGENT_IMPORT_PRICES_FILE)",
        )
        sub.add_argument(
            "--cost-mode",
            choices=COST_MODES,
            default="auto",
            help="auto: a record's own cost wins, else tokens x price; tokens: always tokens x price",
        )
        sub.add_argument(
            "--idle-close",
            type=float,
            default=IDLE_CLOSE_S,
            metavar="SECONDS",
            help=f"end a session whose last turn is over after this much quiet (default {IDLE_CLOSE_S:g})",
        )
        sub.add_argument(
            "--stale",
            type=float,
            default=STALE_S,
            metavar="SECONDS",
            help=f"end a session quiet mid-turn as interrupted after this long (default {STALE_S:g})",
        )
        sub.add_argument("--now", metavar="ISO8601", help="the clock for deciding which sessions are over")
        sub.add_argument("--json", action="store_true", help="print the report as one JSON object")
        sub.add_argument("--quiet", action="store_true", help="no progress on stderr")
        sub.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    source = SOURCES[args.source]
    location = paths.logs_location(args.logs_dir)
    if object_store.is_url(location):
        return fail(f"the log folder is {location}: import into a local log folder (--logs-dir) and ship it")
    try:
        logs = import_logs_dir(args)
    except CommandError as exc:
        return fail(str(exc))
    if args.paths:
        roots = [Path(p).expanduser() for p in args.paths]
        missing = [str(p) for p in roots if not p.exists()]
        if missing:
            return fail(f"{', '.join(missing)} does not exist")
    else:
        usual = source.default_roots(args.settings)
        roots = [p for p in usual if p.exists()]
        if not roots:
            where = " or ".join(str(p) for p in usual)
            return fail(f"no {args.source} transcripts found in {where} (give a PATH)")
    now = None
    if args.now:
        try:
            now = parse_timestamp(args.now)
        except ValueError:
            return fail(f"--now must be an ISO 8601 date-time, got {args.now!r}")
    try:
        prices = PriceTable(args.prices or args.settings.prices_file)
    except ValueError as exc:
        return fail(str(exc))
    progress = None if args.quiet or args.json else (lambda msg: print(msg, file=sys.stderr))
    report = run_import(
        source,
        roots,
        logs_dir=logs,
        data_dir=data_path(args),
        now=now,
        prices=prices,
        settings=args.settings,
        idle_close_s=args.idle_close,
        stale_s=args.stale,
        cost_mode=args.cost_mode,
        progress=progress,
    )
    if args.json:
        print_json({**report.to_json(), "logs_dir": str(logs)})
    else:
        print(render(report, roots, logs, now))
    return 0


def _pairs(counter: dict[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def render(report: ImportReport, roots: list[Path], logs: Path, now: datetime | None = None) -> str:
    ended = _pairs(report.sessions_ended) or "none"
    lines = [
        f"Imported {report.source} from {', '.join(str(r) for r in roots)}",
        f"  read: {report.files_read:,} of {report.files_seen:,} file(s), {report.bytes_read / 1e6:,.1f} MB, "
        f"{report.records:,} records in {report.seconds:.1f} s",
        f"  events: {report.total_events:,}" + (f" ({_pairs(report.events)})" if report.events else ""),
        f"  sessions: {report.sessions_touched:,} with new records; ended now: {ended}; "
        f"still open: {report.sessions_open:,}",
        f"  tokens: {report.tokens:,}   cost: ${report.cost_usd:,.4f}",
    ]
    if report.duplicate_records:
        lines.append(f"  repeated records skipped: {report.duplicate_records:,} (resumed sessions, replays)")
    if report.unpriced_models:
        lines.append(
            f"  unpriced models (tokens without a price, not counted as $0): {_pairs(report.unpriced_models)}"
            " - add them to a price file (--prices)"
        )
    if report.unknown_types:
        lines.append(f"  unknown record types (skipped): {_pairs(report.unknown_types)}")
    if report.quarantined:
        lines.append(f"  quarantined lines: {_pairs(report.quarantined)} (see the data folder's quarantine/)")
    if report.more_pending:
        lines.append("  more to read: run the command again")
    lines += [f"  note: {n}" for n in report.notes[:10]]
    lines.append(f"  into: {logs} (stream/, agent-sessions/, agent-errors.jsonl, agent-metrics.jsonl)")
    return "\n".join(lines)
