"""``agent-pipelines log EVENT_TYPE --attempt-id ID ...``: the logger for PowerShell, Node, shell."""

from __future__ import annotations

import argparse
import json
import sys

from agent_pipelines.cli.common import add_logs_dir, fail, print_json
from agent_pipelines.contract import EVENT_TYPES, ContractError
from agent_pipelines.logger import CONTEXT_FIELDS, AgentWorkLogger

# Every context field of the logger except the integers, which get typed options below.
_CONTEXT_OPTIONS = tuple(name for name in CONTEXT_FIELDS if name not in ("commits_ahead", "commits_behind"))


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "log",
        help="append one event to the agent work logs",
        description=(
            "Append one event (the seed's Start-AgentSession, Write-AgentFollowup, Write-AgentError, "
            "Stop-AgentSession, plus tool_call, tool_result, status_change). Context such as task and "
            "executor is taken from the attempt's session_start when not given."
        ),
    )
    parser.add_argument("event_type", choices=EVENT_TYPES, metavar="EVENT_TYPE", help=", ".join(EVENT_TYPES))
    parser.add_argument("--attempt-id", required=True)
    for name in _CONTEXT_OPTIONS:
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name)
    parser.add_argument("--commits-ahead", type=int)
    parser.add_argument("--commits-behind", type=int)
    parser.add_argument(
        "--data",
        metavar="JSON",
        help='payload fields as a JSON object, e.g. \'{"error_message": "..."}\'; "-" reads it from stdin',
    )
    parser.add_argument("--print", action="store_true", help="print the event written")
    add_logs_dir(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raw = sys.stdin.read() if args.data == "-" else args.data
    try:
        data = json.loads(raw) if raw else {}
    except json.JSONDecodeError as exc:
        return fail(f"--data is not valid JSON: {exc}")
    if not isinstance(data, dict):
        return fail("--data must be a JSON object")
    context = {name: getattr(args, name) for name in (*_CONTEXT_OPTIONS, "commits_ahead", "commits_behind")}
    logger = AgentWorkLogger(args.logs_dir)
    try:
        event = logger.log(args.event_type, args.attempt_id, data, context)
    except ContractError as exc:
        return fail(f"event refused: {exc}")
    except OSError as exc:
        return fail(f"cannot write to {logger.root}: {exc}", code=1)
    if args.print and event is not None:
        print_json(event)
    return 0
