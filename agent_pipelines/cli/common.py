"""Small pieces every command shares: folder options, errors that end a command cleanly."""

from __future__ import annotations

import argparse
import errno
import os
import sys
from pathlib import Path
from typing import Any

from agent_pipelines.cli.tables import dump_json
from agent_pipelines.core import object_store, paths


class CommandError(Exception):
    """A problem the user can fix; printed as one line on stderr, exit code 2."""


def checkout_problem(args: argparse.Namespace) -> str | None:
    """Why this command cannot run outside a source checkout, or ``None`` when it can.

    The product runs from a checkout (README, "Two commands"). Installed as a wheel, the commands
    that only read a log folder still work; ``ui`` needs ``workspace.yaml`` and ``config/``, and a
    command that keeps state must be given a data folder (the default sits beside the code).
    """
    if paths.is_checkout():
        return None
    where = f"this installation ({paths.PROJECT_ROOT}) is not a source checkout"
    if args.command == "ui":
        return (
            f"`ui` runs from a source checkout: {where}; clone the repository and run `bash scripts/start.sh`"
        )
    if hasattr(args, "data_dir") and not args.data_dir and not os.environ.get("AGENT_PIPELINES_DATA_DIR"):
        return (
            f"`{args.command}` needs a data folder: {where}, so give --data-dir DIR or set "
            "AGENT_PIPELINES_DATA_DIR (or run it from a checkout)"
        )
    return None


def add_logs_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--logs-dir",
        metavar="DIR",
        help="log folder, or s3://bucket/prefix (default: $AGENT_WORK_LOGS_DIR or .cache/agent-work-logs)",
    )


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="data folder: Dagster home, tables, quarantine, reports "
        "(default: $AGENT_PIPELINES_DATA_DIR or ./data)",
    )


def demo_logs_dir(value: str | None, data_value: str | None = None) -> Path | None:
    """The demo logs the UI serves instead of ``value``'s folder, or ``None`` when it serves that one.

    The one rule every command follows (the UI's :func:`~agent_pipelines.cli.ui_cmd.choose_logs_dir`):
    no folder was chosen (``--logs-dir``, ``AGENT_WORK_LOGS_DIR``), the default folder holds no logs,
    and ``<data>/demo-logs`` does.
    """
    from agent_pipelines.generator import has_logs

    root = paths.logs_dir(value)
    if value or os.environ.get("AGENT_WORK_LOGS_DIR") or has_logs(root):
        return None
    demo = paths.data_dir(data_value) / "demo-logs"
    return demo if has_logs(demo) else None


def import_logs_dir(value: str | None, data_value: str | None = None) -> Path:
    """Where an import writes: the folder the UI reads. While the UI serves demo logs, an import
    into the (empty) default folder would land where nothing looks: refused, with how to choose."""
    root = paths.logs_dir(value)
    demo = demo_logs_dir(value, data_value)
    if demo is not None:
        raise CommandError(
            f"the UI shows the demo logs in {demo} (no logs in {root} yet): choose where imports go, "
            f"--logs-dir {root} (your own folder; the UI shows it once it has logs, after a restart) "
            f"or --logs-dir {demo} (beside the demo), or set AGENT_WORK_LOGS_DIR"
        )
    return root


def ui_logs_dir(value: str | None) -> tuple[Path, str | None]:
    """The log folder the UI would use, and a note when that is not the obvious one.

    ``agent-pipelines ui`` falls back to demo logs in ``<data>/demo-logs`` when the default folder
    holds no logs; every other command follows it there, so the CLI and the UI never answer from
    two different folders. The note says so, on stderr, each time.
    """
    root = paths.logs_dir(value)
    demo = demo_logs_dir(value)
    if demo is not None:
        return (
            demo,
            f"no logs in {root}: using the demo logs in {demo} (as the UI does; --logs-dir to choose)",
        )
    return root, None


def existing_logs_dir(value: str | None) -> Path:
    """The log folder (the UI's, see :func:`ui_logs_dir`), or a clear error when it does not exist.

    An ``s3://`` log folder is synced into its local mirror first (one line of error if the bucket
    cannot be read), so every command reads a local folder.
    """
    location = paths.logs_location(value)
    if object_store.is_url(location):
        from agent_pipelines.ingest.log_mirror import follow

        try:
            return follow(location, min_interval=0)
        except (object_store.ObjectStoreError, ValueError) as exc:
            raise CommandError(f"cannot read the log folder {exc}") from None
    root, note = ui_logs_dir(value)
    if note:
        print(f"agent-pipelines: {note}", file=sys.stderr)
    if not root.exists():
        raise CommandError(f"log folder {root} does not exist (set --logs-dir or AGENT_WORK_LOGS_DIR)")
    if not root.is_dir():
        raise CommandError(f"{root} is not a folder")
    return root


def print_json(value: Any) -> None:
    """``value`` as one line of JSON on stdout (:func:`~agent_pipelines.cli.tables.dump_json`)."""
    print(dump_json(value, indent=None))


def fail(message: str, code: int = 2) -> int:
    print(f"agent-pipelines: {message}", file=sys.stderr)
    return code


_OS_ERRORS: dict[int, str] = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large for the file system or the process limit",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "the folder is on a read-only file system",
    errno.EIO: "input/output error (a failing disk?)",
    errno.ENOENT: "no such file or folder",
    errno.ENOTDIR: "a path component is not a folder",
    errno.EISDIR: "is a folder, not a file",
    errno.ELOOP: "too many levels of symbolic links",
}


def describe_os_error(exc: OSError) -> str:
    """An ``OSError`` as one line a user can act on: what happened, and to which path."""
    what = _OS_ERRORS.get(exc.errno or -1) or exc.strerror or str(exc) or type(exc).__name__
    where = exc.filename
    return f"{what}: {where}" if where else what
