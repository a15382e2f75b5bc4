"""A timeline as a static HTML page (Jinja, autoescaped, nothing fetched) or as terminal text.

Pages are written under ``<data>/replays/``: one per attempt (``<attempt>.html``, the name made safe
by :func:`replay_file_name`) and one index per day (``<YYYY-MM-DD>.html``) listing that day's
sessions. They are static files: ``agent-pipelines ui`` serves the folder read-only, and a copy of
the folder opens anywhere.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from urllib.parse import quote

import jinja2

from agent_pipelines.analytics.replay.timeline import Timeline, human_duration
from agent_pipelines.core.atomic import atomic_write

REPLAYS_DIR = "replays"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
# A word per kind of step, as a coloured label (words, not emoji: they read without an emoji font).
LABELS = {"prompt": "prompt", "tool_call": "tool", "tool_result": "result", "error": "error",
          "followup": "follow-up", "status": "status", "output": "output", "thinking": "thinking",
          "end": "end", "alert": "alert", "idle": "idle"}  # fmt: skip


def replay_file_name(attempt_id: str) -> str:
    """``<attempt>.html``; an id with characters unsafe in a file name or URL gets them replaced and a
    short hash of the original (so two ids never share a page)."""
    safe = _UNSAFE.sub("_", attempt_id)[:120]
    if safe != attempt_id:
        safe += "-" + hashlib.sha1(attempt_id.encode("utf-8")).hexdigest()[:8]
    return f"{safe}.html"


def replays_dir(data_dir: str | os.PathLike[str]) -> Path:
    return Path(data_dir) / REPLAYS_DIR


@cache
def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("agent_pipelines.analytics.replay", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def _money(value: float) -> str:
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def render_html(timeline: Timeline, day: str | None = None) -> str:
    """The session's replay page."""
    return (
        _templates()
        .get_template("session_replay.html.j2")
        .render(
            t=timeline,
            day=day,
            labels=LABELS,
            duration=human_duration(timeline.duration_ms),
            offset=human_duration,
            money=_money,
            counts={
                k: timeline.count(k) for k in ("prompt", "tool_call", "error", "followup", "alert", "idle")
            },
        )
    )


def render_index(day: str, timelines: Iterable[Timeline]) -> str:
    """One day's sessions, each linking to its replay."""
    rows = [
        {
            "href": quote(replay_file_name(t.attempt_id)),
            "t": t,
            "duration": human_duration(t.duration_ms),
            "cost": _money(t.cost_usd),
            "errors": t.count("error"),
            "alerts": t.count("alert"),
        }
        for t in sorted(timelines, key=lambda t: (t.started_at is None, t.started_at))
    ]
    return _templates().get_template("replay_index.html.j2").render(day=day, rows=rows)


def render_text(timeline: Timeline, width: int = 100) -> str:
    """The timeline for a terminal: one line per step, details indented below it."""
    t = timeline
    head = [
        f"Session {t.attempt_id}" + (f" — {t.task_title}" if t.task_title else ""),
        f"task {t.task_id or '–'} · {t.executor or '–'} · {t.model or '–'} · status {t.status or 'open'}",
        f"{t.started_at:%Y-%m-%d %H:%M:%S} UTC · {human_duration(t.duration_ms)} · {t.tokens:,} tokens · "
        f"{_money(t.cost_usd)} · {t.count('error')} errors · {t.count('alert')} alerts"
        if t.started_at
        else "no events",
        "",
    ]
    lines = list(head)
    for s in t.steps:
        mark = "!" if s.failed else " "
        lines.append(f"{mark}+{human_duration(s.offset_ms):>12}  {s.kind:<11} {s.title}"[:width])
        for detail in s.detail.splitlines()[:8]:
            lines.append(("      " + detail)[:width])
        if s.kind == "end":
            lines.append(f"      so far: {s.tokens:,} tokens, {_money(s.cost_usd)}")
    return "\n".join(lines)


def write_replays(data_dir: str | os.PathLike[str], day: str, timelines: list[Timeline]) -> list[Path]:
    """Write each session's page and the day's index, atomically; returns the pages written."""
    folder = replays_dir(data_dir)
    written = []
    for t in timelines:
        target = folder / replay_file_name(t.attempt_id)
        atomic_write(target, render_html(t, day).encode("utf-8"))
        written.append(target)
    atomic_write(folder / f"{day}.html", render_index(day, timelines).encode("utf-8"))
    return written


__all__ = [
    "REPLAYS_DIR",
    "render_html",
    "render_index",
    "render_text",
    "replay_file_name",
    "replays_dir",
    "write_replays",
]
