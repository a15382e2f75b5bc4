"""``agent-pipelines rotate``: archive closed days, quarantine bad lines, apply retention — now."""

from __future__ import annotations

import argparse

from agent_pipelines.cli.common import add_data_dir, add_logs_dir, describe_os_error, fail, print_json
from agent_pipelines.ops import rotation
from agent_pipelines.ops.retention import ENV_VARS, RetentionPolicy

EXIT_BUSY = 3


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "rotate",
        help="rotate and prune the log folder (what the weekly schedule runs)",
        description=(
            "Move every closed UTC day out of the live log files into compressed archives "
            "(archive/<kind>/YYYY-MM-DD.jsonl.gz, metrics by month), send invalid lines to the "
            "quarantine with their reasons, append lines of today back to the live files, then delete "
            "archives older than their retention and all but the newest session transcripts. Safe while "
            "writers append; a rotation that was killed is finished by the next one. Retention comes "
            f"from {', '.join(ENV_VARS.values())} (or the original rotation script's defaults: "
            "stream 30 days, errors 90, "
            "alerts 30, metrics kept, newest 100 transcripts)."
        ),
    )
    add_logs_dir(parser)
    add_data_dir(parser)
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print exactly what would happen (reads every file) and change nothing",
    )
    parser.add_argument("--json", action="store_true", help="print the plan or the report as one JSON object")
    parser.add_argument(
        "--wait", action="store_true", help="wait for a running rotation to finish instead of exiting at once"
    )
    parser.add_argument("--today", metavar="YYYY-MM-DD", help=argparse.SUPPRESS)  # tests and backfills
    for name in ENV_VARS:
        flag = "--" + name.replace("_", "-")
        parser.add_argument(
            flag, dest=name, metavar="N", help=f"override retention ({name}; 'forever' keeps all)"
        )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        overrides = {name: getattr(args, name) for name in ENV_VARS}
        policy = RetentionPolicy.from_settings(args.settings, **overrides)
        s = rotation.settings(
            args.logs_dir, args.data_dir, today=args.today, policy=policy, environment=args.settings
        )
    except ValueError as exc:
        return fail(str(exc))
    if not s.logs_root.is_dir():
        return fail(f"log folder {s.logs_root} does not exist (set --logs-dir or AGENT_WORK_LOGS_DIR)")
    if args.dry_run:
        plan = rotation.plan_rotation(s, simulate=True)
        if args.json:
            print_json({"dry_run": True, **plan.to_dict()})
        else:
            print(f"Dry run in {s.logs_root} — nothing will be changed:")
            for line in plan.describe():
                print(f"  {line}")
        return 0
    try:
        report = rotation.rotate(s, wait=args.wait)
    except rotation.RotationBusy as exc:
        return fail(str(exc), EXIT_BUSY)
    except rotation.RotationError as exc:
        return fail(f"rotation stopped, nothing was lost: {exc}", 1)
    except OSError as exc:
        return fail(
            f"rotation stopped, nothing was lost: {describe_os_error(exc)} "
            "(staged days stay readable; the next rotation finishes them)",
            1,
        )
    if args.json:
        print_json({"dry_run": False, **report.to_dict()})
    else:
        for line in report.describe():
            print(line)
    return 0
