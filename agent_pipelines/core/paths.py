"""Where things live on disk: the log folder (laid out as the original PowerShell logger wrote it)
and our data folder.

Two folders, on purpose:

* the **log folder** is what orchestrators write (`.cache/agent-work-logs/` by default,
  ``AGENT_WORK_LOGS_DIR`` to move it) and its layout is a contract other tools read;
* the **data folder** is ours (``AGENT_PIPELINES_DATA_DIR``, default ``<project>/data``):
  Dagster's home, Parquet tables, quarantine, detector state, reports. Deleting it loses
  history but never a log line.

Either may be an ``s3://bucket/prefix`` URL (a team's setup): the log folder is then followed
into a local folder (:mod:`agent_pipelines.ingest.log_mirror`), and the data folder's tables and reports
are written to the bucket while its local parts stay in :func:`local_dir`.

Log folder layout::

    agent-work-stream.jsonl          the original PowerShell logger appends here; read as input too
    stream/YYYY-MM-DD.jsonl          our logger's daily partitions of the stream (UTC day)
    agent-errors.jsonl               error events only
    agent-metrics.jsonl              one summary per finished session
    agent-alerts.jsonl               alerts from the live detectors
    agent-sessions/<attempt>.jsonl   per-attempt transcripts (file name safely encoded)
    archive/                         rotated, compressed days (see the rotation job)
"""

from __future__ import annotations

import hashlib
import os
import re
from datetime import date
from pathlib import Path

STREAM_FILE = "agent-work-stream.jsonl"
ERRORS_FILE = "agent-errors.jsonl"
METRICS_FILE = "agent-metrics.jsonl"
ALERTS_FILE = "agent-alerts.jsonl"
SESSIONS_DIR = "agent-sessions"
STREAM_DIR = "stream"
ARCHIVE_DIR = "archive"
GROUND_TRUTH_FILE = "ground-truth.json"

DEFAULT_LOGS_DIR = Path(".cache") / "agent-work-logs"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def is_checkout(root: Path = PROJECT_ROOT) -> bool:
    """Whether the package runs from a source checkout (the only supported way, see README).

    The product needs files a wheel does not carry (``workspace.yaml``, ``config/``) and keeps its
    data folder beside the code by default: from ``site-packages`` that would be wrong.
    """
    return (root / "pyproject.toml").is_file() and (root / "workspace.yaml").is_file()


def _is_url(value: object) -> bool:
    return isinstance(value, str) and "://" in value


def logs_location(explicit: str | os.PathLike[str] | None = None) -> str:
    """The log folder as configured: a local path or an ``s3://`` URL (see :mod:`log_mirror`).

    ``explicit`` is what the edge was given (``--logs-dir``, else ``AGENT_WORK_LOGS_DIR`` through
    :class:`~agent_pipelines.core.settings.Settings`); without it, the original logger's default."""
    if explicit:
        return os.fspath(explicit)
    return str(DEFAULT_LOGS_DIR)


def logs_dir(explicit: str | os.PathLike[str] | None = None, local: Path | None = None) -> Path:
    """The log folder on local disk: ``explicit``, else the original PowerShell logger's default.
    For an ``s3://`` URL, the local folder that follows it under ``local`` (the local data folder;
    synced by :func:`agent_pipelines.ingest.log_mirror.follow`, which ``LogStore`` and the CLI call)."""
    location = logs_location(explicit)
    if _is_url(location):
        return mirror_dir(location, local)
    return Path(location)


def data_location(explicit: str | os.PathLike[str] | None = None) -> str:
    """The data folder as configured (``explicit``, else ``<project>/data``): a local path or an
    ``s3://`` URL (tables and reports go there)."""
    if explicit:
        return os.fspath(explicit)
    return str(PROJECT_ROOT / "data")


def local_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Where what must stay on a local disk lives when the data folder is an ``s3://`` URL:
    ``explicit`` (``AGENT_PIPELINES_LOCAL_DIR``), else ``<project>/data``. See :func:`data_dir`."""
    return Path(explicit) if explicit else PROJECT_ROOT / "data"


def data_dir(
    explicit: str | os.PathLike[str] | None = None, local: str | os.PathLike[str] | None = None
) -> Path:
    """Our data folder on local disk: ``explicit`` (``--data-dir``, ``AGENT_PIPELINES_DATA_DIR``),
    else ``<project>/data``. When that is an ``s3://`` URL, :func:`local_dir` of ``local``: Parquet
    tables and reports then go to the bucket (:func:`data_location`), while detector state, the
    Telegram outbox, the quarantine, the mirror of a remote log folder and a SQLite ``DAGSTER_HOME``
    stay local (they are rewritten every few seconds, need locks and atomic renames, or hold raw
    lines)."""
    location = data_location(explicit)
    return local_dir(local) if _is_url(location) else Path(location)


def stream_partition_path(root: Path, day: date | str) -> Path:
    """The daily stream file for a UTC day."""
    return root / STREAM_DIR / f"{day}.jsonl"


def quarantine_dir(data: Path) -> Path:
    return data / "quarantine"


_SAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]")
_MAX_NAME = 150


def session_file_name(attempt_id: str) -> str:
    """A file name for an attempt's transcript that can never leave the sessions folder.

    Anything outside ``[A-Za-z0-9._-]`` is percent-encoded (so ``ve/a1b2`` and ``ve_a1b2`` stay
    distinct), a leading dot is encoded (no ``..`` or hidden files), and very long ids are cut and
    suffixed with a hash so distinct ids keep distinct names.
    """
    encoded = _SAFE_CHARS.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode("utf-8")), attempt_id)
    if encoded.startswith("."):
        encoded = "%2E" + encoded[1:]
    if not encoded:
        encoded = "%00empty"
    if len(encoded) > _MAX_NAME:
        digest = hashlib.sha256(attempt_id.encode("utf-8")).hexdigest()[:16]
        encoded = f"{encoded[: _MAX_NAME - 17]}~{digest}"
    return f"{encoded}.jsonl"


def session_file_path(root: Path, attempt_id: str) -> Path:
    return root / SESSIONS_DIR / session_file_name(attempt_id)


MIRROR_DIR = "log-mirror"


def mirror_dir(url: str, local_root: Path | None = None) -> Path:
    """The local folder that follows ``url``: ``<data>/log-mirror/<bucket>/<prefix>``, made safe.

    ``<data>`` is the local data folder (``local_root``; :func:`local_dir`'s default without it)."""
    from agent_pipelines.core.object_store import Location

    location = Location.parse(url)
    parts = [location.bucket, *location.prefix.split("/")]
    safe = [re.sub(r"[^A-Za-z0-9._-]", "_", p) for p in parts if p not in ("", ".", "..")]
    return (local_root or local_dir()) / MIRROR_DIR / Path(*safe)
