"""Usage counted once per request even when a tool rewrites the record that carries it.

Gemini CLI, OpenCode and Copilot CLI write a response's usage on a record that is written again as
it completes (more tool calls, the final token counts). Each request is remembered by a key in the
import state with the usage already counted; a later version adds only its growth (the same rule
as Claude Code's streaming snapshots, :meth:`~agent_pipelines.ingest.importers.state.ImportState.message`).
"""

from __future__ import annotations

from typing import Any

from agent_pipelines.ingest.importers.core import Importer
from agent_pipelines.ingest.importers.pricing import Usage


def count_growth(
    imp: Importer,
    s: dict[str, Any],
    key: str,
    model: str | None,
    usage: Usage,
    ts: str,
    record_cost: float | None = None,
) -> None:
    """Add ``usage`` for request ``key`` to session ``s``, minus what was counted for it before.

    A record's own cost (``record_cost``) counts once, with the first version that has it."""
    assert imp.state is not None
    seen = imp.state.message(key)
    counted = Usage.from_list(seen[1]) if seen else Usage()
    grown = usage.max(counted)
    if seen is not None and grown == counted:
        return
    imp.state.put_message(key, s["id"], grown.to_list())
    imp.add_usage(s, model, grown - counted, ts, record_cost if seen is None else None)
