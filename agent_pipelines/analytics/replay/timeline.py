"""One session's timeline: what the agent was asked, did, hit and cost, in order.

A session here is an attempt (``attempt_id``: one agent session, its follow-up and retry sessions
included), the unit every table, cluster and alert points at. The timeline is built from the cleaned
events (our own logs and imported transcripts alike: importers write the same contract) and the
alerts that named the attempt. Every text that reaches a page or a terminal is redacted here, once
(:func:`agent_pipelines.text.redaction.redact`), whatever renders it.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from agent_pipelines.text.redaction import redact

IDLE_GAP_MS = 5 * 60 * 1000  # a pause this long between two steps is marked as idle
DETAIL_CHARS = 4000  # a tool's input or result, an error's stack: enough to read, bounded


@dataclass(frozen=True)
class Step:
    """One line of the timeline."""

    at: datetime
    offset_ms: int  # since the session's first event
    kind: str  # prompt, tool_call, tool_result, error, followup, status, output, thinking, end, alert, idle
    title: str
    detail: str = ""
    tokens: int = 0  # tokens so far
    cost_usd: float = 0.0  # cost so far
    failed: bool = False


@dataclass
class Timeline:
    attempt_id: str
    task_id: str | None = None
    task_title: str | None = None
    executor: str | None = None
    model: str | None = None
    status: str | None = None  # the last completion status, None while open
    started_at: datetime | None = None
    ended_at: datetime | None = None
    steps: list[Step] = field(default_factory=list)

    @property
    def tokens(self) -> int:
        return self.steps[-1].tokens if self.steps else 0

    @property
    def cost_usd(self) -> float:
        return self.steps[-1].cost_usd if self.steps else 0.0

    @property
    def duration_ms(self) -> int:
        return self.steps[-1].offset_ms if self.steps else 0

    def count(self, kind: str) -> int:
        return sum(1 for s in self.steps if s.kind == kind)


def clean(value: Any, limit: int = DETAIL_CHARS) -> str:
    """Text for a page: redacted, pretty JSON when it is JSON, cut to ``limit`` characters."""
    if value is None:
        return ""
    text = str(value)
    if text[:1] in "{[":
        with contextlib.suppress(ValueError):  # not JSON after all: shown as it is
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    text = redact(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def human_duration(ms: int | float | None) -> str:
    """``850 ms``, ``42 s``, ``12 min 05 s``, ``3 h 04 min``: durations as people read them."""
    if ms is None:
        return "–"
    seconds = int(ms) // 1000
    if ms < 1000:
        return f"{int(ms)} ms"
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _without(payload: Any, keys: tuple[str, ...]) -> Any:
    """A JSON object's text without ``keys`` (already in the step's title); other text as it is."""
    if not isinstance(payload, str) or not payload.startswith("{"):
        return payload
    try:
        value = json.loads(payload)
    except ValueError:
        return payload
    if not isinstance(value, dict):
        return payload
    rest = {k: v for k, v in value.items() if k not in keys}
    return json.dumps(rest, ensure_ascii=False) if rest else None


def _payload_text(payload: Any, key: str) -> tuple[Any, Any]:
    """``key`` and ``stream_type`` of a payload kept as JSON text (fields without a column)."""
    try:
        value = json.loads(payload) if isinstance(payload, str) else None
    except ValueError:
        return payload, None
    if not isinstance(value, dict):
        return payload, None
    return value.get(key), value.get("stream_type")


def _describe(row: dict[str, Any]) -> tuple[str, str, str, bool]:
    """(kind, title, detail, failed) of one event row."""
    kind = row.get("event_type") or "event"
    get = row.get
    if kind == "session_start":
        prompt_type = get("prompt_type") or "initial"
        title = f"{prompt_type} prompt" + (
            f" ({clean(get('followup_reason'), 200)})" if get("followup_reason") else ""
        )
        return "prompt", title, clean(get("prompt")), False
    if kind == "tool_call":
        return (
            "tool_call",
            f"tool call: {clean(get('tool_name'), 100) or '?'}",
            clean(get("tool_params")),
            False,
        )
    if kind == "tool_result":
        failed = get("success") is False
        title = f"tool result: {clean(get('tool_name'), 100) or '?'}" + (" (failed)" if failed else "")
        return "tool_result", title, clean(_without(get("data"), ("tool_name", "success"))), failed
    if kind == "error":
        category = f" [{clean(get('error_category'), 60)}]" if get("error_category") else ""
        detail = clean(get("error_message"))
        if get("stack_trace"):
            detail += "\n\n" + clean(get("stack_trace"))
        return "error", f"error{category}", detail, True
    if kind == "followup_sent":
        return (
            "followup",
            "follow-up sent" + (f": {clean(get('reason'), 200)}" if get("reason") else ""),
            clean(get("message")),
            False,
        )
    if kind == "status_change":
        title = f"status: {clean(get('old_status'), 40) or '?'} → {clean(get('new_status'), 40) or '?'}"
        return "status", title, clean(get("reason")), False
    if kind in ("agent_output", "agent_thinking"):
        text, stream = _payload_text(get("data"), "output" if kind == "agent_output" else "thinking")
        if kind == "agent_thinking":
            return "thinking", "thinking", clean(text), False
        title = "output" + (f" ({clean(stream, 20)})" if stream else "")
        return "output", title, clean(text), False  # stderr is not a failure: tools print progress there
    if kind == "session_end":
        status = get("completion_status") or "ended"
        title = f"session end: {status}" + (
            f" after {human_duration(get('duration_ms'))}" if get("duration_ms") else ""
        )
        return "end", title, clean(get("outcome")), status != "success"
    return kind, kind.replace("_", " "), clean(get("data")), False


def build_timeline(attempt_id: str, events: pl.DataFrame, alerts: pl.DataFrame | None = None) -> Timeline:
    """The timeline of ``attempt_id`` from its events (any columns of the cleaned schema) and the
    alerts that named it (``alerts_table`` rows: timestamp, type, severity, summary, recommendation)."""
    mine = events.filter(pl.col("attempt_id") == attempt_id).sort("timestamp", maintain_order=True)
    timeline = Timeline(attempt_id=attempt_id)
    rows: list[tuple[datetime, str, str, str, bool, int, float]] = []
    for row in mine.iter_rows(named=True):
        for key in ("task_id", "task_title", "executor", "model"):
            if row.get(key) and getattr(timeline, key) is None:
                setattr(timeline, key, clean(row[key], 300))
        if row.get("event_type") == "session_end":
            timeline.status = row.get("completion_status")
        kind, title, detail, failed = _describe(row)
        rows.append((row["timestamp"], kind, title, detail, failed, int(row.get("total_tokens") or 0),
                     float(row.get("cost_usd") or 0.0)))  # fmt: skip
    if alerts is not None and alerts.height and "attempt_id" in alerts.columns:
        for a in alerts.filter(pl.col("attempt_id") == attempt_id).iter_rows(named=True):
            title = f"alert: {a.get('type')} ({a.get('severity')})"
            detail = "\n".join(
                clean(a.get(k), 600) for k in ("summary", "recommendation", "sample") if a.get(k)
            )
            rows.append((a["timestamp"], "alert", title, detail, True, 0, 0.0))
    rows.sort(key=lambda r: r[0])
    if not rows:
        return timeline
    start = rows[0][0]
    timeline.started_at, timeline.ended_at = start, rows[-1][0]
    # Idle: a pause between two of the agent's own events (an alert that fired meanwhile is no
    # activity); the idle step goes right after the event the pause followed.
    tokens, cost, previous, after = 0, 0.0, start, 0
    for at, kind, title, detail, failed, add_tokens, add_cost in rows:
        tokens += add_tokens
        cost += add_cost
        step = Step(at, _offset(at, start), kind, title, detail, tokens, round(cost, 6), failed)
        if kind == "alert":
            timeline.steps.append(step)
            continue
        gap_ms = int((at - previous).total_seconds() * 1000)
        if gap_ms >= IDLE_GAP_MS:
            before = timeline.steps[after - 1] if after else None
            idle = Step(
                previous,
                _offset(previous, start),
                "idle",
                f"idle {human_duration(gap_ms)}",
                tokens=before.tokens if before else 0,
                cost_usd=before.cost_usd if before else 0.0,
            )
            timeline.steps.insert(after, idle)
        timeline.steps.append(step)
        previous, after = at, len(timeline.steps)
    return timeline


def _offset(at: datetime, start: datetime) -> int:
    return int((at - start).total_seconds() * 1000)


__all__ = ["DETAIL_CHARS", "IDLE_GAP_MS", "Step", "Timeline", "build_timeline", "clean", "human_duration"]
