"""The ``agent-pipelines`` command line.

Each sub-command lives in its own module exposing ``register(subparsers)``; the
tuple below is the only place that knows them all, so adding a command is one new
module, one import and one entry here. The imports are plain: a command module that
fails to import fails the whole command line (and CI), it never disappears quietly.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import ModuleType

from agent_pipelines.cli import (
    alerts_cmd,
    analyze_cmd,
    detect_cmd,
    estimate_cmd,
    experiments_cmd,
    generate_cmd,
    import_cmd,
    log_cmd,
    materialize_cmd,
    rotate_cmd,
    session_cmd,
    status_cmd,
    summary_cmd,
    templates_cmd,
    ui_cmd,
    validate_cmd,
)
from agent_pipelines.cli.common import apply_settings, checkout_problem, describe_os_error, fail
from agent_pipelines.core.settings import Settings, SettingsError, drop_empty_aws_variables

# Sub-command modules, in the order `--help` lists them.
COMMAND_MODULES: tuple[ModuleType, ...] = (
    ui_cmd,
    log_cmd,
    validate_cmd,
    generate_cmd,
    detect_cmd,
    alerts_cmd,
    templates_cmd,
    analyze_cmd,
    summary_cmd,
    session_cmd,
    materialize_cmd,
    rotate_cmd,
    status_cmd,
    import_cmd,
    estimate_cmd,
    experiments_cmd,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agent-pipelines",
        description="Logs, analytics and live alerts for fleets of AI coding agents.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:  # the command line's edge: the settings are loaded once, here, and passed down in `args`
        settings = Settings.load()
    except SettingsError as exc:  # a bad environment variable: one line, before any work
        return fail(str(exc))
    drop_empty_aws_variables()
    apply_settings(args, settings)
    if problem := checkout_problem(args):
        return fail(problem)
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # `agent-pipelines ... | head` is fine
        return 0
    except SettingsError as exc:  # a bad --option value checked like a setting (retention limits)
        return fail(str(exc))
    except KeyboardInterrupt:
        return 130
    except OSError as exc:  # disk full, permissions, a read-only folder: one line, never a traceback
        return fail(describe_os_error(exc), 1)


if __name__ == "__main__":
    sys.exit(main())
