"""Session replay (the original roadmap's "session replay tool: visualize agent decisions"): one
session's timeline — prompts, tool calls with their inputs and results, errors, follow-ups, status
changes, alerts — with tokens and cost as they accrued and idle gaps marked, secrets redacted.

* :mod:`~agent_pipelines.analytics.replay.timeline` — the timeline from cleaned events and alerts;
* :mod:`~agent_pipelines.analytics.replay.render` — a static HTML page per session, an index per day
  (Jinja templates in ``templates/``), and text for the terminal (``agent-pipelines session``).

May import ``core`` and ``text`` only (like every ``analytics`` module).
"""

from __future__ import annotations

from agent_pipelines.analytics.replay.render import (
    REPLAYS_DIR,
    render_html,
    render_index,
    render_text,
    replay_file_name,
    replays_dir,
    write_replays,
)
from agent_pipelines.analytics.replay.timeline import (
    IDLE_GAP_MS,
    Step,
    Timeline,
    build_timeline,
    clean,
    human_duration,
)

__all__ = [
    "IDLE_GAP_MS",
    "REPLAYS_DIR",
    "Step",
    "Timeline",
    "build_timeline",
    "clean",
    "human_duration",
    "render_html",
    "render_index",
    "render_text",
    "replay_file_name",
    "replays_dir",
    "write_replays",
]
