"""``agent-pipelines ui``: the Dagster UI with its sensors and schedules, on demo data if need be."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from agent_pipelines.cli.common import add_data_dir, add_logs_dir, data_path, fallback_logs, use_dagster_home
from agent_pipelines.cli.files_server import serve_files
from agent_pipelines.cli.terminal import run_filtered
from agent_pipelines.core import object_store, paths
from agent_pipelines.generator import generate, has_logs, print_progress
from agent_pipelines.orchestration.instance import INSTANCE_ENV, INSTANCE_KINDS, InstanceConfigError

DEMO_DAYS = 14
DEMO_TASKS = 1500
DEMO_SEED = 42
LOG_LEVELS = ["critical", "error", "warning", "info", "debug"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ui",
        help="start the Dagster UI (dagster dev) with a persistent home; demo logs if none exist",
        description=(
            "Start `dagster dev` on 127.0.0.1 with DAGSTER_HOME in the data folder, so run history and "
            "sensor cursors survive restarts. Logs come from --logs-dir, $AGENT_WORK_LOGS_DIR or "
            ".cache/agent-work-logs; when none of those holds logs, demo logs are generated into "
            "<data>/demo-logs and used instead."
        ),
    )
    add_logs_dir(parser)
    add_data_dir(parser)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--files-port",
        type=int,
        help="port of the read-only server for session replays and weekly reports (default: --port + 1)",
    )
    parser.add_argument("--no-demo", action="store_true", help="never generate demo logs")
    parser.add_argument(
        "--instance",
        choices=INSTANCE_KINDS,
        help=f"Dagster instance: sqlite (embedded, the default) or postgres (DAGSTER_PG_* variables); "
        f"default ${INSTANCE_ENV} or sqlite",
    )
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        help="what the terminal shows (default warning: problems only; every run's logs are in the UI). "
        "info shows each sensor tick, debug also every skip",
    )
    parser.set_defaults(func=run)


def choose_logs_dir(explicit: str | None, data: Path, demo: bool) -> Path | str:
    """The log folder the product will watch, generating demo logs when there are none
    (:func:`~agent_pipelines.cli.common.fallback_logs` says when)."""
    if explicit and object_store.is_url(paths.logs_location(explicit)):
        return paths.logs_location(explicit)  # followed into a local mirror by LogStore
    root, demo_dir = fallback_logs(explicit, data)
    if demo_dir is None or not demo:
        return root.resolve()
    demo_dir = demo_dir.resolve()
    if not has_logs(demo_dir):
        print(f"No agent logs in {root.resolve()}: generating demo logs into {demo_dir}", file=sys.stderr)
        generate(demo_dir, days=DEMO_DAYS, tasks=DEMO_TASKS, seed=DEMO_SEED, progress=print_progress)
    return demo_dir


def quiet_terminal() -> None:
    """``dagster dev`` warns on every start that ``dg dev`` supersedes it; we start it on purpose.
    (Runs' DEBUG lines are filtered by :func:`~agent_pipelines.cli.terminal.run_filtered`.)"""
    known = "ignore:Function `dev_command` is superseded"
    current = os.environ.get("PYTHONWARNINGS", "")
    os.environ["PYTHONWARNINGS"] = f"{current},{known}" if current else known


def terminal_level(configured: str | None) -> str:
    """``AGENT_PIPELINES_LOG_LEVEL`` as one of ``dagster dev``'s levels (default warning)."""
    level = (configured or "WARNING").lower()
    return {"warn": "warning", "fatal": "critical", "notset": "debug"}.get(level, level)


def run(args: argparse.Namespace) -> int:
    data = data_path(args).resolve()
    data.mkdir(parents=True, exist_ok=True)
    # The edge of the command line: what the code location's process will load its settings from.
    location = paths.data_location(args.data_dir)
    if object_store.is_url(location):  # tables and reports in the bucket, local parts in `data`
        os.environ["AGENT_PIPELINES_DATA_DIR"] = location
        os.environ["AGENT_PIPELINES_LOCAL_DIR"] = str(data)
    else:
        os.environ["AGENT_PIPELINES_DATA_DIR"] = str(data)
    try:
        home = use_dagster_home(args, data, instance=args.instance)
    except InstanceConfigError as exc:
        print(f"agent-pipelines: {exc}", file=sys.stderr)
        return 2
    logs = choose_logs_dir(args.logs_dir, data, demo=not args.no_demo)
    os.environ["AGENT_WORK_LOGS_DIR"] = str(logs)
    files_port = args.files_port if args.files_port is not None else args.port + 1
    try:
        serve_files(data, args.host, files_port)
    except OSError as exc:
        print(
            f"agent-pipelines: cannot serve replays on {args.host}:{files_port}: {exc.strerror}",
            file=sys.stderr,
        )
        return 2
    # The links in the UI's metadata point here (a proxy in front sets its own public URL). Imported
    # here: the module brings Dagster, which every other command can start without.
    from agent_pipelines.orchestration.links import FILES_URL_ENV

    os.environ.setdefault(FILES_URL_ENV, f"http://{args.host}:{files_port}")
    print(
        f"DAGSTER_HOME={home} ({os.environ[INSTANCE_ENV]} instance)\nAGENT_WORK_LOGS_DIR={logs}\n"
        f"UI: http://{args.host}:{args.port}\nReplays and reports (read-only): {os.environ[FILES_URL_ENV]}",
        file=sys.stderr,
    )
    dagster = shutil.which("dagster", path=str(Path(sys.executable).parent)) or shutil.which("dagster")
    if dagster is None:
        print("agent-pipelines: the `dagster` command is not installed in this environment", file=sys.stderr)
        return 2
    os.chdir(paths.PROJECT_ROOT)
    argv = [dagster, "dev", "-w", "workspace.yaml", "-h", args.host, "-p", str(args.port)]
    args.log_level = args.log_level or terminal_level(args.settings.log_level)
    argv += ["--log-level", args.log_level]
    quiet_terminal()
    print(
        f"Terminal: {args.log_level} and above (--log-level); every run, tick and skip is in the UI",
        file=sys.stderr,
    )
    # This process also serves the replays (a thread) while Dagster runs.
    return run_filtered(argv, args.log_level)  # at debug it keeps every line; it stops the whole tree
