"""Links from Dagster metadata to the pages the pipeline writes: session replays and weekly reports.

``agent-pipelines ui`` serves the data folder's ``replays/`` and ``reports/`` read-only on loopback
next to the Dagster UI (:mod:`agent_pipelines.cli.files_server`) and tells the code location where
through ``AGENT_PIPELINES_FILES_URL`` (``Settings.files_url``); behind a proxy (``deploy/``) it is
the proxy's path. A link is a ``MetadataValue.url`` (opens from the asset page) or a Markdown link
in a table. Every function takes the base URL, :func:`files_url` of the run's settings.
"""

from __future__ import annotations

from urllib.parse import quote

import dagster as dg

from agent_pipelines.analytics.replay import replay_file_name
from agent_pipelines.core.settings import Settings
from agent_pipelines.text import markdown as md

FILES_URL_ENV = "AGENT_PIPELINES_FILES_URL"
DEFAULT_FILES_URL = "http://127.0.0.1:3001"  # `agent-pipelines ui`'s default: the UI's port + 1


def files_url(settings: Settings) -> str:
    """Where the replays and reports are served (no trailing slash)."""
    return (settings.files_url or DEFAULT_FILES_URL).rstrip("/")


def replay_url(base: str, attempt_id: str) -> str:
    return f"{base}/replays/{quote(replay_file_name(attempt_id))}"


def day_replays_url(base: str, day: str) -> str:
    """The index of one day's session replays."""
    return f"{base}/replays/{quote(day)}.html"


def report_url(base: str, file_name: str) -> str:
    return f"{base}/reports/{quote(file_name)}"


def replay_link(base: str, attempt_id: str) -> md.Raw:
    """A Markdown link from an attempt id to its replay (the id shortened for a table cell)."""
    shown = attempt_id if len(attempt_id) <= 14 else attempt_id[:12] + "…"
    return md.link(shown, replay_url(base, attempt_id))


def replay_value(base: str, attempt_id: str) -> dg.MetadataValue:
    return dg.MetadataValue.url(replay_url(base, attempt_id))


__all__ = [
    "DEFAULT_FILES_URL",
    "FILES_URL_ENV",
    "day_replays_url",
    "files_url",
    "replay_link",
    "replay_url",
    "replay_value",
    "report_url",
]
