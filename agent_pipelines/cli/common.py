"""Small pieces every command shares: folder options, errors that end a command cleanly."""

from __future__ import annotations

import argparse
import errno
import sys
from pathlib import Path
from typing import Any

from agent_pipelines.cli.tables import dump_json
from agent_pipelines.core import object_store, paths
from agent_pipelines.core.settings import Settings


class CommandError(Exception):
    """A problem the user can fix; printed as one line on stderr, exit code 2."""


def apply_settings(args: argparse.Namespace, settings: Settings) -> None:
    """Give the command its settings (``args.settings``) and fill ``--logs-dir``/``--data-dir``
    from ``AGENT_WORK_LOGS_DIR``/``AGENT_PIPELINES_DATA_DIR`` where not given: from here on a
    command reads folders from ``args`` only."""
    args.settings = settings
    if hasattr(args, "logs_dir") and not args.logs_dir:
        args.logs_dir = settings.logs_location
    if hasattr(args, "data_dir") and not args.data_dir:
        args.data_dir = settings.data_location


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
    if hasattr(args, "data_dir") and not args.data_dir:  # --data-dir, else AGENT_PIPELINES_DATA_DIR
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


def data_path(args: argparse.Namespace) -> Path:
    """The local data folder of this command: ``--data-dir``/``AGENT_PIPELINES_DATA_DIR`` (filled
    in by ``main`` from the settings), its local part (``AGENT_PIPELINES_LOCAL_DIR``) for a bucket."""
    given = getattr(args, "data_dir", None) or args.settings.data_location  # some commands have no option
    return paths.data_dir(given, args.settings.local_dir)


def use_dagster_home(args: argparse.Namespace, data: Path, instance: str | None = None) -> Path:
    """Export ``DAGSTER_HOME`` and the instance's variables for Dagster (which reads them itself,
    here and in the processes it starts); the home. Raises ``InstanceConfigError``."""
    import os

    from agent_pipelines.orchestration.instance import dagster_environment

    env = dagster_environment(args.settings, data, instance)
    os.environ.update(env)
    return Path(env["DAGSTER_HOME"])


def fallback_logs(explicit: str | None, data: Path) -> tuple[Path, Path | None]:
    """The log folder as configured, and the demo folder to use instead, if any.

    The one rule of the demo fallback (``ui`` and every other command): when no log folder was
    configured (``--logs-dir``, ``AGENT_WORK_LOGS_DIR``) and the default one holds no logs,
    ``<data>/demo-logs`` stands in (``ui`` generates it; the others use it when it exists).
    """
    from agent_pipelines.generator import has_logs

    root = paths.logs_dir(explicit, data)
    if explicit or has_logs(root):
        return root, None
    return root, data / "demo-logs"


def demo_logs_dir(args: argparse.Namespace) -> Path | None:
    """The demo logs the UI serves instead of the configured folder, or ``None`` when it serves that
    one: :func:`fallback_logs`' rule, when ``<data>/demo-logs`` holds logs."""
    from agent_pipelines.generator import has_logs

    _, demo = fallback_logs(args.logs_dir, data_path(args))
    return demo if demo is not None and has_logs(demo) else None


def import_logs_dir(args: argparse.Namespace) -> Path:
    """Where an import writes: the folder the UI reads. While the UI serves demo logs, an import
    into the (empty) default folder would land where nothing looks: refused, with how to choose."""
    root = paths.logs_dir(args.logs_dir, data_path(args))
    demo = demo_logs_dir(args)
    if demo is not None:
        raise CommandError(
            f"the UI shows the demo logs in {demo} (no logs in {root} yet): choose where imports go, "
            f"--logs-dir {root} (your own folder; the UI shows it once it has logs, after a restart) "
            f"or --logs-dir {demo} (beside the demo), or set AGENT_WORK_LOGS_DIR"
        )
    return root


def ui_logs_dir(args: argparse.Namespace) -> tuple[Path, str | None]:
    """The log folder the UI would use, and a note when that is not the obvious one.

    ``agent-pipelines ui`` falls back to demo logs (:func:`fallback_logs`); every other command
    follows it there, so the CLI and the UI never answer from two different folders. The note says
    so, on stderr, each time.
    """
    root = paths.logs_dir(args.logs_dir, data_path(args))
    demo = demo_logs_dir(args)
    if demo is not None:
        return (
            demo,
            f"no logs in {root}: using the demo logs in {demo} (as the UI does; --logs-dir to choose)",
        )
    return root, None


def existing_logs_dir(args: argparse.Namespace) -> Path:
    """The log folder (the UI's, see :func:`ui_logs_dir`), or a clear error when it does not exist.

    An ``s3://`` log folder is synced into its local mirror first (one line of error if the bucket
    cannot be read), so every command reads a local folder.
    """
    location = paths.logs_location(args.logs_dir)
    if object_store.is_url(location):
        from agent_pipelines.ingest.log_mirror import follow

        try:
            return follow(location, min_interval=0, root=paths.logs_dir(location, data_path(args)))
        except (object_store.ObjectStoreError, ValueError) as exc:
            raise CommandError(f"cannot read the log folder {exc}") from None
    root, note = ui_logs_dir(args)
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
