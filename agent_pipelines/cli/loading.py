"""What the analytics commands (``analyze`` and ``summary``) read: a log folder's events, sessions and
error occurrences in one window.

**Time windows** (``--days D``, ``summary --last-n-days N``) are the ones the UI uses
(``agent_pipelines.core.windows``): they end at the newest event in the logs (never later than the wall
clock), so the same logs give the same numbers here and in the UI, and every output states its
window, e.g. "last 7 days to 2026-11-29 23:59 UTC". ``--now now`` ends them at the wall clock instead
(the original's ``Show-AgentWorkSummary``), ``--now TIME`` at an ISO time. Without ``--days`` every
event is used ("all days to ..."). Sessions belong to a window by their start time (computed from
every event read, a day more than the window, so none is cut in half), errors by their own time. With
``--days`` only the days needed are read.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from agent_pipelines.analytics import errors as errors_lib
from agent_pipelines.analytics import metrics
from agent_pipelines.cli.common import CommandError, existing_logs_dir
from agent_pipelines.core import paths, windows
from agent_pipelines.core.contract import parse_timestamp
from agent_pipelines.core.reader import dedupe, partition_days, read_logs, stream_files
from agent_pipelines.core.windows import Window


@dataclass
class Loaded:
    """What every analytics command starts from: events, sessions and error occurrences in the window."""

    root: Path
    events: pl.DataFrame
    sessions: pl.DataFrame
    occurrences: pl.DataFrame
    window: Window
    quarantined: int

    @property
    def now(self) -> datetime:
        """The end of the window."""
        return self.window.end

    @property
    def cutoff(self) -> datetime | None:
        """The moment before the window (excluded); ``None`` for every day."""
        return self.window.start


def add_now_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--now",
        default="latest",
        metavar="TIME",
        help="end of time windows: 'latest' (default, as in the UI: the newest event in the logs, no "
        "later than the wall clock), 'now' (the wall clock, as the original did) or an ISO time",
    )


def _stream_or_fail(root: Path) -> None:
    if not stream_files(root):
        raise CommandError(
            f"no agent work logs in {root} (expected stream/YYYY-MM-DD.jsonl or agent-work-stream.jsonl)"
        )


def resolve_now(value: str, root: Path) -> datetime:
    """``--now``: the newest event in the logs (the UI's window end, :func:`windows.data_end`), the
    wall clock, or an explicit ISO time (UTC if naive)."""
    if value == "now":
        return datetime.now(UTC)
    if value in ("", "latest"):
        days = partition_days(root)
        # The newest day's file holds the newest event, unless the original logger's single file goes
        # further.
        newest = days[-1:] if days and not (root / paths.STREAM_FILE).exists() else None
        result = read_logs(root, days=newest)
        if result.events.is_empty() and newest is not None:
            result = read_logs(root)  # the newest day holds only bad lines: the end is further back
        if result.events.is_empty():
            raise _no_valid_events(root, result.quarantine.height)
        return windows.data_end(metrics.session_metrics(dedupe(result.events)))
    try:
        return parse_timestamp(value if "T" in value or " " in value else value + "T00:00:00Z")
    except ValueError as exc:
        raise CommandError(f"--now: {exc}") from None


def _no_valid_events(root: Path, quarantined: int) -> CommandError:
    why = "the logs are empty"
    if quarantined:
        why = f"{quarantined} lines quarantined; see `agent-pipelines validate`"
    return CommandError(f"no valid events in {root} ({why})")


def load(args: argparse.Namespace, *, days: float | None, now_option: str) -> Loaded:
    """Read the log folder (only the days the window needs) and derive sessions and error clusters.

    Cluster identity (fingerprint unification, merged variants) is computed on what was read, so with
    ``--days`` it can differ slightly from the assets, which cluster over all days.
    """
    root = existing_logs_dir(args)
    _stream_or_fail(root)
    if days is not None and days <= 0:
        raise CommandError("--days must be positive")
    window = Window(resolve_now(now_option, root), days)
    now, cutoff = window.end, window.start
    read_days: list[date] | None = None
    # The original logger's single file holds every day: read it all.
    if cutoff is not None and not (root / paths.STREAM_FILE).exists():
        # A day more than the window, so a session that started before it is seen whole and left out.
        first = cutoff.date() - timedelta(days=1)
        read_days = [d for d in partition_days(root) if first <= d <= now.date()]
    result = read_logs(root, days=read_days)
    events = dedupe(result.events)
    # An empty window is an answer; a folder without a single valid event is an error.
    whole = result if events.height or read_days is None else read_logs(root)
    if whole.events.is_empty():
        raise _no_valid_events(root, whole.quarantine.height)
    sessions = metrics.session_metrics(events)
    occurrences = errors_lib.error_occurrences(events)
    if cutoff is not None:
        # Sessions by their start (computed from every event read, so none is cut in half), errors
        # and other events by their own time.
        sessions = window.sessions(sessions)
        occurrences = occurrences.filter(window.contains("timestamp"))
        events = events.filter(window.contains("timestamp"))
    return Loaded(root, events, sessions, occurrences, window, result.quarantine.height)


def warn_if_empty(loaded: Loaded, what: str = "sessions") -> None:
    if loaded.cutoff is not None and loaded.sessions.is_empty():
        print(
            f"agent-pipelines: no {what} in the {loaded.window.describe()}; "
            "for old or generated logs use --now latest",
            file=sys.stderr,
        )


def error_loops(loaded: Loaded, threshold: int | None = None) -> pl.DataFrame:
    """Attempts with an error loop: the live detector's alerts when present, else detected here
    (``threshold``: the settings' ``AGENT_ERROR_LOOP_THRESHOLD``)."""
    return metrics.error_loops(loaded.root, events=loaded.events, threshold=threshold)[0]


def window_line(loaded: Loaded) -> str:
    """The window every text output states (its JSON carries ``window`` where it is an object)."""
    return f"Window: {loaded.window.describe()} ({windows.SESSION_RULE})"


def rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return frame.to_dicts()
