"""``agent-pipelines generate``: realistic demo and test logs with their ground truth."""

from __future__ import annotations

import argparse
from datetime import date

from agent_pipelines.cli.common import fail, print_json
from agent_pipelines.generator import TRANSCRIPT_TASKS, generate, print_progress


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="write realistic agent work logs (and a ground-truth file) for demos, tests and benchmarks",
        description=(
            "Write TASKS tasks spread over DAYS UTC days: several executors and models, 1-5 attempts per "
            "task, follow-ups, tool calls, costs, ~30 kinds of errors, sessions across midnight, a little "
            "malformed input and injected incidents. The same seed and start day give the same bytes."
        ),
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="log folder to write")
    parser.add_argument("--days", type=int, required=True)
    parser.add_argument("--tasks", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--start",
        type=date.fromisoformat,
        metavar="YYYY-MM-DD",
        help="first day (default: DAYS days before today)",
    )
    parser.add_argument("--workers", type=int, help="processes to use (default: CPU count, at most 4)")
    parser.add_argument("--force", action="store_true", help="replace logs already in --out")
    sessions = parser.add_mutually_exclusive_group()
    sessions.add_argument(
        "--all-transcripts",
        action="store_true",
        help="a transcript in agent-sessions/ for every attempt (default: the attempts of about "
        f"{TRANSCRIPT_TASKS:,} tasks spread over the period)",
    )
    sessions.add_argument("--no-transcripts", action="store_true", help="no agent-sessions/ at all")
    parser.add_argument(
        "--signal",
        action="store_true",
        help="draw the documented predictive signal (prompt variants A/B, risky early errors, hard task "
        "kinds, cost by task size) for the prediction models; recorded in ground-truth.json",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.add_argument("--json", action="store_true", help="print the statistics as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        stats = generate(
            args.out,
            days=args.days,
            tasks=args.tasks,
            seed=args.seed,
            start=args.start,
            workers=args.workers,
            force=args.force,
            transcripts=not args.no_transcripts,
            all_transcripts=args.all_transcripts,
            signal=args.signal,
            progress=None if args.quiet else print_progress,
        )
    except (FileExistsError, ValueError) as exc:
        return fail(str(exc))
    if args.json:
        print_json(
            {
                "events": stats.events,
                "attempts": stats.attempts,
                "transcripts": stats.transcripts,
                "tasks": stats.tasks,
                "malformed": stats.malformed,
                "days": stats.days,
                "seconds": round(stats.seconds, 3),
            }
        )
    else:
        print(
            f"wrote {stats.events:,} events ({stats.tasks:,} tasks, {stats.attempts:,} attempts, "
            f"{stats.transcripts:,} transcripts) and {sum(stats.malformed.values())} malformed lines over "
            f"{len(stats.days)} days to {args.out} in {stats.seconds:.1f} s"
        )
    return 0
