"""A rotation's settings, constants and small helpers (crash injection for tests included)."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from agent_pipelines.core import paths
from agent_pipelines.core.settings import Settings as Environment
from agent_pipelines.core.settings import defaults
from agent_pipelines.ops.retention import RetentionPolicy

SCHEDULE_CRON = "0 3 * * 0"  # the original script's weekly cron: Sundays 03:00 UTC (job schedule, `status`)
SCHEDULE_TIMEZONE = "UTC"
CRASH_ENV = "AGENT_PIPELINES_ROTATION_CRASH_AT"
GRACE_ENV = "AGENT_PIPELINES_ROTATION_GRACE_SECONDS"
DEFAULT_GRACE_SECONDS = 2.0
BLOCK_BYTES = 32 << 20
SHOW_SESSIONS = 10  # transcripts named one by one in a described plan
CRASH_STEPS: tuple[str, ...] = (
    "staged",  # after a file was renamed into the staging folder
    "prepared",  # outputs written in the token folder, manifest not yet
    "manifest",  # commit point written
    "archived",  # after an archive was renamed into place
    "returned",  # after lines were appended back to a live file, before marking it done
    "quarantined",  # after quarantine records were written
    "source_deleted",  # after the staged file was deleted
    "retention",  # after one file was deleted by retention
)
SOURCE = "source.jsonl"
ORIGIN = "origin.json"
MANIFEST = "manifest.json"
QUARANTINE = "quarantine.jsonl"
KEEP_ON_REPREPARE = frozenset({SOURCE, ORIGIN})


class RotationBusy(RuntimeError):
    """Another rotation holds the lock."""


class RotationError(RuntimeError):
    """A rotation step found an inconsistency and stopped before deleting anything."""


@dataclass(frozen=True)
class Settings:
    logs_root: Path
    data_root: Path
    today: date
    policy: RetentionPolicy
    grace_seconds: float = DEFAULT_GRACE_SECONDS
    crash_at: str | None = None  # tests: ``<step>[:<n>]``, see :func:`checkpoint`


def settings(
    logs_dir: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    today: date | str | None = None,
    policy: RetentionPolicy | None = None,
    grace_seconds: float | None = None,
    environment: Environment | None = None,
) -> Settings:
    """Resolve folders, today's UTC date, retention and the grace period from ``environment`` (the
    edge's :class:`agent_pipelines.core.settings.Settings`; every default without), explicit
    arguments winning."""
    env = environment or defaults()
    if isinstance(today, str):
        today = date.fromisoformat(today) if today else None
    return Settings(
        logs_root=paths.logs_dir(logs_dir or env.logs_location, env.local_dir),
        data_root=paths.data_dir(data_dir or env.data_location, env.local_dir),
        today=today or datetime.now(UTC).date(),
        policy=policy or RetentionPolicy.from_settings(env),
        grace_seconds=env.rotation_grace_seconds if grace_seconds is None else grace_seconds,
        crash_at=env.rotation_crash_at,
    )


def rel(s: Settings, path: Path) -> str:
    return path.relative_to(s.logs_root).as_posix()


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


_crash_hits: dict[str, int] = {}


def checkpoint(s: Settings, step: str) -> None:
    """Crash injection for tests: SIGKILL at the n-th arrival at ``step`` when ``s.crash_at``
    (``AGENT_PIPELINES_ROTATION_CRASH_AT=<step>[:<n>]``) asks."""
    spec = s.crash_at
    if not spec:
        return
    name, _, nth = spec.partition(":")
    if name != step:
        return
    _crash_hits[step] = _crash_hits.get(step, 0) + 1
    if _crash_hits[step] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
