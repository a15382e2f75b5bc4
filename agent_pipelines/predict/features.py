"""What an attempt has shown so far: one accumulator, fed event by event, for training and for live scoring.

Why one accumulator: a model trained on features computed one way and scored on features computed
another learns nothing it can use. :class:`Prefix` takes an attempt's events in time order and gives
its features at any moment (:meth:`Prefix.features`); training replays finished attempts and takes
snapshots at cutoffs (after N events, at N minutes), the live side keeps one per open attempt.

What it never sees: the outcome. ``session_end``, the final ``status_change`` (to ``done`` /
``failed``) and an importer's verdict (an ``error`` of category ``task``, such as SWE-agent's "not
resolved (evaluation report)" written just before a failed run's end) are skipped, and tokens and
cost arrive only with the end in our format, so "tokens burnt" is not a feature until an executor
reports them earlier.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from agent_pipelines.core.contract import SUCCESS_STATUS

OUTCOME_STATUSES = frozenset(("done", "failed", "completed", "cancelled"))
VERDICT_CATEGORY = "task"  # an importer's word on how a finished run came out (ingest/importers/swe_agent.py)
ERROR_CATEGORIES = (
    "git", "auth", "dependency", "build", "test", "model", "api_key", "environment", "resources",
    "timeout", "runtime", "tooling", "scope",
)  # fmt: skip
CATEGORICAL = ("executor", "model", "task_kind", "prompt_variant")
NUMERIC = (
    "minutes", "events", "tool_calls", "tool_failures", "tool_fail_share", "distinct_tools", "top_tool_share",
    "repeat_calls", "bash_share", "edit_share", "errors", "distinct_errors", "errors_per_minute",
    *(f"errors_{c}" for c in ERROR_CATEGORIES), "errors_other", "followups", "restarts", "is_retry",
    "description_words",
)  # fmt: skip
EVENT_COLUMNS = (
    "timestamp", "attempt_id", "task_id", "event_type", "executor", "model", "task_title", "task_description",
    "prompt_type", "tool_name", "tool_params", "success", "error_category", "error_fingerprint",
    "error_message", "new_status", "data", "prompt",
)  # fmt: skip
EVENT_CUTOFFS = (5, 10, 20)
MINUTE_CUTOFFS = (2.0, 5.0, 10.0)
TRAIN_EVENT_CUTOFFS = (3, 5, 10, 20, 40)
TRAIN_MINUTE_CUTOFFS = (1.0, 2.0, 5.0, 10.0, 20.0)


def task_kind(title: str | None) -> str:
    """A task's kind: its title's first word (the verb: Fix, Migrate, Document...), lower case."""
    return (title or "").strip().split(" ", 1)[0].lower() or "unknown"


def task_words(description: str | None, prompt: str | None) -> int:
    """Words in the task's description, else in the first prompt: importers (SWE-agent, Claude Code
    transcripts...) carry the task only as the prompt."""
    return len(str(description or prompt or "").split())


def prompt_variant(data: str | None) -> str | None:
    """The ``prompt_variant`` of a ``session_start`` payload (docs/contract.md), if it has one."""
    if not data or "prompt_variant" not in data:
        return None
    try:
        value = json.loads(data).get("prompt_variant")
    except (ValueError, AttributeError):
        return None
    return str(value) if value is not None else None


def is_outcome(row: dict[str, Any]) -> bool:
    """Whether an event tells the outcome (never fed to a prefix)."""
    kind = row["event_type"]
    return (
        kind == "session_end"
        or (kind == "status_change" and row.get("new_status") in OUTCOME_STATUSES)
        or (kind == "error" and row.get("error_category") == VERDICT_CATEGORY)
    )


@dataclass
class Prefix:
    """An attempt as far as it has gone: counters updated by :meth:`add`, features by :meth:`features`."""

    attempt_id: str
    task_id: str | None = None
    executor: str | None = None
    model: str | None = None
    title: str | None = None
    variant: str | None = None
    description_words: int = 0
    first_ms: int | None = None
    last_ms: int = 0
    events: int = 0
    starts: int = 0
    is_retry: bool = False
    tools: dict[str, int] = field(default_factory=dict)
    tool_failures: int = 0
    repeat_calls: int = 0
    last_call: tuple[str | None, str | None] | None = None
    errors: int = 0
    error_keys: set[str] = field(default_factory=set)
    categories: dict[str, int] = field(default_factory=dict)
    followups: int = 0

    def add(self, row: dict[str, Any]) -> None:
        """One event (a dict with :data:`EVENT_COLUMNS`); outcome events are ignored."""
        if is_outcome(row):
            return
        ms = _ms(row["timestamp"])
        self.first_ms = ms if self.first_ms is None else self.first_ms
        self.last_ms = max(self.last_ms, ms)
        self.events += 1
        self.task_id = self.task_id or row.get("task_id")
        self.executor = self.executor or row.get("executor")
        self.model = self.model or row.get("model")
        self.title = self.title or row.get("task_title")
        if not self.description_words:
            self.description_words = task_words(row.get("task_description"), row.get("prompt"))
        kind = row["event_type"]
        if kind == "session_start":
            self.starts += 1
            if self.starts == 1:
                self.is_retry = row.get("prompt_type") == "retry"
            self.variant = self.variant or prompt_variant(row.get("data"))
        elif kind == "tool_call":
            name = row.get("tool_name") or "unknown"
            self.tools[name] = self.tools.get(name, 0) + 1
            call = (name, row.get("tool_params"))
            self.repeat_calls += call == self.last_call
            self.last_call = call
        elif kind == "tool_result":
            self.tool_failures += row.get("success") is False
        elif kind == "error":
            self.errors += 1
            category = row.get("error_category") or "other"
            category = category if category in ERROR_CATEGORIES else "other"
            self.categories[category] = self.categories.get(category, 0) + 1
            self.error_keys.add(
                row.get("error_fingerprint") or f"{category}:{(row.get('error_message') or '')[:40]}"
            )
        elif kind == "followup_sent":
            self.followups += 1

    @property
    def minutes(self) -> float:
        return (self.last_ms - (self.first_ms or self.last_ms)) / 60_000

    def features(self) -> dict[str, Any]:
        """The features now (:data:`NUMERIC` and :data:`CATEGORICAL`), plus the attempt's id."""
        calls = sum(self.tools.values())
        minutes = self.minutes
        row: dict[str, Any] = {
            "attempt_id": self.attempt_id,
            "executor": self.executor or "unknown",
            "model": self.model or "unknown",
            "task_kind": task_kind(self.title),
            "prompt_variant": self.variant or "none",
            "minutes": minutes,
            "events": self.events,
            "tool_calls": calls,
            "tool_failures": self.tool_failures,
            "tool_fail_share": self.tool_failures / calls if calls else 0.0,
            "distinct_tools": len(self.tools),
            "top_tool_share": max(self.tools.values()) / calls if calls else 0.0,
            "repeat_calls": self.repeat_calls,
            "bash_share": sum(n for t, n in self.tools.items() if t.lower() == "bash") / calls
            if calls
            else 0.0,
            "edit_share": (self.tools.get("Edit", 0) + self.tools.get("Write", 0)) / calls if calls else 0.0,
            "errors": self.errors,
            "distinct_errors": len(self.error_keys),
            "errors_per_minute": self.errors / max(minutes, 1.0),
            "errors_other": self.categories.get("other", 0),
            "followups": self.followups,
            "restarts": max(0, self.starts - 1),
            "is_retry": int(self.is_retry),
            "description_words": self.description_words,
        }
        for category in ERROR_CATEGORIES:
            row[f"errors_{category}"] = self.categories.get(category, 0)
        return row


def _ms(value: Any) -> int:
    """Milliseconds since the epoch, floored as polars' ``dt.epoch("ms")`` does (exact: no float)."""
    if isinstance(value, datetime):
        epoch = _EPOCH if value.tzinfo is not None else _EPOCH.replace(tzinfo=None)
        return (value - epoch) // timedelta(milliseconds=1)
    return int(value)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def event_rows(events: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """The columns a prefix reads, in attempt and time order (columns a frame lacks are null)."""
    lazy = events.lazy()
    have = lazy.collect_schema().names()
    return (
        lazy.select([pl.col(c) if c in have else pl.lit(None).alias(c) for c in EVENT_COLUMNS])
        .filter(pl.col("attempt_id").is_not_null())
        .sort(["attempt_id", "timestamp"], maintain_order=True)
        .collect()
    )


def outcomes(events: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """Per finished attempt: ``failed`` (its last ``session_end`` is not a success), its end time,
    duration, cost and tokens (the labels the models learn)."""
    ends = events.lazy().filter(pl.col("event_type") == "session_end").sort("timestamp")
    return (
        ends.group_by("attempt_id")
        .agg(
            pl.col("completion_status").last(),
            pl.col("timestamp").last().alias("ended_at"),
            pl.col("duration_ms").last(),
            pl.col("cost_usd").last(),
            pl.col("total_tokens").last(),
        )
        .with_columns(failed=(pl.col("completion_status") != SUCCESS_STATUS).cast(pl.Int8))
        .collect()
    )


@dataclass(frozen=True)
class Cutoff:
    """Where a prefix is cut: after ``events`` events or at ``minutes`` minutes."""

    events: int | None = None
    minutes: float | None = None

    @property
    def label(self) -> str:
        return f"{self.events} events" if self.events is not None else f"{self.minutes:g} min"


def snapshots(events: pl.DataFrame | pl.LazyFrame, cutoffs: list[Cutoff]) -> pl.DataFrame:
    """Per attempt and cutoff it lived past, the features of its prefix at that cutoff.

    An attempt counts at a minute cutoff only if it was still going then (an event, its end included,
    came after it): the population a live score at that moment would see. (At an event cutoff a
    finished attempt always was: its end came after.)
    """
    rows = event_rows(events)
    cutoffs = list(dict.fromkeys(cutoffs))  # a cutoff named twice is one snapshot, not two
    out: list[dict[str, Any]] = []
    by_events = {c.events: c.label for c in cutoffs if c.events is not None}
    by_minutes = sorted((c for c in cutoffs if c.minutes is not None), key=lambda c: c.minutes or 0.0)
    for (attempt_id,), group in rows.group_by(["attempt_id"], maintain_order=True):
        prefix = Prefix(str(attempt_id))
        pending = [(c.minutes or 0.0) * 60_000 for c in by_minutes]
        labels = [c.label for c in by_minutes]
        for row in group.iter_rows(named=True):
            if prefix.first_ms is not None:
                elapsed = _ms(row["timestamp"]) - prefix.first_ms
                while pending and elapsed > pending[0]:
                    pending.pop(0)
                    out.append({**prefix.features(), "cutoff": labels.pop(0)})
            if is_outcome(row):
                continue
            prefix.add(row)
            label = by_events.get(prefix.events)
            if label is not None:
                out.append({**prefix.features(), "cutoff": label})
    return pl.DataFrame(out) if out else pl.DataFrame()
