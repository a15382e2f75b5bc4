"""``agent-pipelines session ATTEMPT``: one session's timeline in the terminal (the replay's twin).

The same timeline as the ``session_replays`` pages (:mod:`agent_pipelines.analytics.replay`), read
straight from the log folder: prompts, tool calls with their inputs and results, errors, follow-ups,
status changes and alerts, tokens and cost as they accrued, idle gaps marked, secrets redacted.
An unambiguous prefix of the attempt id is enough (the UI's tables show ids shortened).
"""

from __future__ import annotations

import argparse
import shutil
from dataclasses import asdict
from pathlib import Path

import polars as pl

from agent_pipelines.analytics import replay
from agent_pipelines.cli.common import CommandError, add_logs_dir, existing_logs_dir, fail, print_json
from agent_pipelines.core.reader import dedupe, read_logs
from agent_pipelines.live.alerts_table import alerts_table, read_alert_records


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "session",
        help="print one session's timeline (prompts, tool calls, errors, alerts, cost as it accrued)",
        description="Print the timeline of one attempt: what the session page (session_replays) "
        "shows, in the terminal. ATTEMPT may be an unambiguous prefix of the attempt id.",
    )
    parser.add_argument("attempt", metavar="ATTEMPT", help="attempt id (or an unambiguous prefix)")
    add_logs_dir(parser)
    parser.add_argument("--html", metavar="FILE", help="also write the replay page to FILE")
    parser.add_argument("--json", action="store_true", help="the timeline as JSON")
    parser.set_defaults(func=run)


def find_attempt(events: pl.DataFrame, wanted: str) -> str:
    """The attempt id ``wanted`` names: itself, or the one id it is a prefix of."""
    ids = events["attempt_id"].unique()
    if wanted in ids:
        return wanted
    matches = sorted(i for i in ids.to_list() if i and i.startswith(wanted))
    if len(matches) == 1:
        return matches[0]
    if matches:
        shown = ", ".join(matches[:5]) + (" ..." if len(matches) > 5 else "")
        raise CommandError(f"{len(matches)} attempts start with {wanted!r}: {shown}")
    raise CommandError(f"no attempt {wanted!r} in the logs (see `agent-pipelines analyze` for ids)")


def run(args: argparse.Namespace) -> int:
    try:
        root = existing_logs_dir(args)
        events = dedupe(read_logs(root).events)
        if events.is_empty():
            raise CommandError(f"no valid events in {root}")
        attempt = find_attempt(events, args.attempt)
    except CommandError as exc:
        return fail(str(exc))
    alerts = alerts_table(read_alert_records(root))
    timeline = replay.build_timeline(attempt, events, alerts)
    if args.html:
        Path(args.html).write_text(replay.render_html(timeline), encoding="utf-8")
    if args.json:
        print_json({**asdict(timeline), "tokens": timeline.tokens, "cost_usd": timeline.cost_usd})
        return 0
    print(replay.render_text(timeline, width=max(60, shutil.get_terminal_size((120, 24)).columns)))
    return 0
