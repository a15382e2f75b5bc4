"""Importing the transcripts people already have: Claude Code and Codex CLI sessions as our events.

``agent-pipelines import claude-code|codex [PATH]`` and the ``transcript_import_sensor`` both call
:func:`run_import` with a source from :data:`SOURCES`; what one record means lives in the source
module, everything shared (files by identity and offset, dedupe, tokens and cost, session ends,
writing to the log folder) in :mod:`agent_pipelines.ingest.importers.core` and the modules it uses.
"""

from __future__ import annotations

from agent_pipelines.core.settings import env_flag
from agent_pipelines.ingest.importers.claude_code import ClaudeCode
from agent_pipelines.ingest.importers.codex import Codex
from agent_pipelines.ingest.importers.core import ImportReport, LockedError, Source, run_import

SOURCES: dict[str, Source] = {"claude-code": ClaudeCode(), "codex": Codex()}

# One switch per source (read like every switch of ours: anything but false/0/no/off is on).
SWITCHES: dict[str, str] = {"claude-code": "AGENT_IMPORT_CLAUDE_CODE", "codex": "AGENT_IMPORT_CODEX"}


def source_enabled(name: str) -> bool:
    return env_flag(SWITCHES[name])


__all__ = ["SOURCES", "SWITCHES", "ImportReport", "LockedError", "Source", "run_import", "source_enabled"]
