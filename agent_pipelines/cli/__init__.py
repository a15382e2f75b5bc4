"""The ``agent-pipelines`` command line.

Each sub-command lives in its own module exposing ``register(subparsers)``; the
module list below is the only place that knows them all, so adding a command is
one new module and one line here.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Sub-command modules, in the order `--help` lists them.
COMMAND_MODULES: list[str] = [
    "agent_pipelines.cli.ui_cmd",
    "agent_pipelines.cli.log_cmd",
    "agent_pipelines.cli.validate_cmd",
    "agent_pipelines.cli.generate_cmd",
    "agent_pipelines.cli.detect_cmd",
    "agent_pipelines.cli.templates_cmd",
    "agent_pipelines.cli.analyze_cmd",
    "agent_pipelines.cli.summary_cmd",
    "agent_pipelines.cli.materialize_cmd",
    "agent_pipelines.cli.rotate_cmd",
    "agent_pipelines.cli.status_cmd",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agent-pipelines",
        description="Logs, analytics and live alerts for fleets of AI coding agents.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:  # a command still being built is left out, not fatal
            if exc.name == module_name:
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # `agent-pipelines ... | head` is fine
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
