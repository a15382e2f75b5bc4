"""Importing the transcripts people already have (Claude Code, Codex CLI, Gemini CLI, GitHub Copilot CLI,
OpenCode, SWE-agent and mini-swe-agent) as our events.

``agent-pipelines import claude-code|codex [PATH]`` and the ``transcript_import_sensor`` both call
:func:`run_import` with a source from :data:`SOURCES`; what one record means lives in the source
module, everything shared (files by identity and offset, dedupe, tokens and cost, session ends,
writing to the log folder) in :mod:`agent_pipelines.ingest.importers.core` and the modules it uses.
"""

from __future__ import annotations

from agent_pipelines.core.settings import Settings
from agent_pipelines.ingest.importers.claude_code import ClaudeCode
from agent_pipelines.ingest.importers.codex import Codex
from agent_pipelines.ingest.importers.copilot import CopilotCli
from agent_pipelines.ingest.importers.core import ImportReport, LockedError, Source, run_import
from agent_pipelines.ingest.importers.gemini import GeminiCli
from agent_pipelines.ingest.importers.opencode import OpenCode
from agent_pipelines.ingest.importers.swe_agent import MiniSweAgent, SweAgent

SOURCES: dict[str, Source] = {
    "claude-code": ClaudeCode(),
    "codex": Codex(),
    "gemini-cli": GeminiCli(),
    "copilot-cli": CopilotCli(),
    "opencode": OpenCode(),
    "swe-agent": SweAgent(),
    "mini-swe-agent": MiniSweAgent(),
}

# One switch per source (read like every switch of ours: anything but false/0/no/off is on).
SWITCHES: dict[str, str] = {name: "AGENT_IMPORT_" + name.upper().replace("-", "_") for name in SOURCES}


def source_enabled(settings: Settings, name: str) -> bool:
    """Whether ``settings`` leave the source ``name`` on (its :data:`SWITCHES` variable)."""
    return settings.switch(name)


__all__ = ["SOURCES", "SWITCHES", "ImportReport", "LockedError", "Source", "run_import", "source_enabled"]
