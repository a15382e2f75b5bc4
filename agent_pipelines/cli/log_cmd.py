"""``agent-pipelines log EVENT_TYPE --attempt-id ID ...``: the logger for PowerShell, Node, shell."""

from __future__ import annotations

import argparse
import sys

from agent_pipelines.cli.common import add_logs_dir, describe_os_error, fail, print_json
from agent_pipelines.core.contract import EVENT_TYPES, MAX_LINE_BYTES, ContractError, Reason
from agent_pipelines.core.logger import CONTEXT_FIELDS, AgentWorkLogger
from agent_pipelines.core.reader import decode_json

# Every context field of the logger except the integers, which get typed options below.
_CONTEXT_OPTIONS = tuple(name for name in CONTEXT_FIELDS if name not in ("commits_ahead", "commits_behind"))


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "log",
        help="append one event to the agent work logs",
        description=(
            "Append one event (the original PowerShell logger's Start-AgentSession, Write-AgentFollowup, "
            "Write-AgentError, "
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
    try:
        raw = _read_stdin() if args.data == "-" else args.data
        data = parse_data(raw) if raw else {}
    except ContractError as exc:
        if exc.reason == Reason.MALFORMED_JSON:
            return fail(f"--data is not valid JSON: {exc.detail.removeprefix('malformed JSON: ')}")
        return fail(f"--data refused ({exc.reason.value}): {exc.detail}")
    context = {name: getattr(args, name) for name in (*_CONTEXT_OPTIONS, "commits_ahead", "commits_behind")}
    logger = AgentWorkLogger(args.logs_dir, enabled=args.settings.logging_enabled)
    try:
        event = logger.log(args.event_type, args.attempt_id, data, context)
    except ContractError as exc:
        return fail(f"event refused: {exc}")
    except OSError as exc:
        return fail(f"event not written: {describe_os_error(exc)}", code=1)
    if args.print and event is not None:
        print_json(event)
    return 0


MAX_DATA_BYTES = MAX_LINE_BYTES  # --data larger than a line can hold is refused before it is read whole


def _read_stdin() -> str:
    """``--data -``: at most one line's worth of bytes (10 MB piped in is refused, not buffered)."""
    raw = sys.stdin.buffer.read(MAX_DATA_BYTES + 1)
    if len(raw) > MAX_DATA_BYTES:
        raise ContractError(Reason.LINE_TOO_LONG, f"more than {MAX_DATA_BYTES} bytes on stdin")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ContractError(Reason.INVALID_UTF8, f"stdin is not UTF-8 (byte {exc.start})") from None


def parse_data(text: str) -> dict:
    """``--data`` as an object, read as strictly as the reader reads a line: one clear
    :class:`ContractError` for malformed JSON, duplicate keys, NaN or 1e400, nesting over 64 levels."""
    if len(text) > MAX_DATA_BYTES:
        raise ContractError(Reason.LINE_TOO_LONG, f"more than {MAX_DATA_BYTES} bytes")
    data = decode_json(text)
    if not isinstance(data, dict):
        raise ContractError(Reason.NOT_AN_OBJECT, "must be a JSON object")
    return data
