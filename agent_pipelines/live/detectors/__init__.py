"""The live detectors: error loops, tool loops, stuck agents, cost anomalies, restarts, failed sessions.

Pure logic over events and a state object — no files, no clock, no Dagster — so the sensor's job,
``agent-pipelines detect --once`` and the tests run exactly the same code.

Two rules make a replay of old logs give the same alerts as the live sensor, whatever the chunking:

* **Windows use event time.** "4 errors within 10 minutes" means 10 minutes between the events'
  own timestamps, never between the moments we happened to read them (the original Node live analyzer
  measured wall clock, so a replay fired on anything).
* **An incident is named by its first event.** Its ``alert_id`` hashes the type, the attempt and the
  id of the event that opened it (first error of the window, last event before the silence...),
  so finding it early in one chunking and late in another gives the same id.

A stuck agent is found two ways that agree on the id: *live*, an open session whose last event is
more than the threshold before ``now`` (the wall clock, or ``--now`` in a replay); and *in the
stream*, a gap of more than the threshold before an open session's next event (a replay, or an
agent that came back before the next check). Either way the incident is "silence after event X".

Suppression: the same type for the same attempt fires at most once per 5 minutes of event time,
then again if the condition persists (an error loop still looping). A stuck agent fires once per
silence, an excessive-restarts alert once per attempt: those conditions do not "persist" in a way
worth repeating.

Modules: :mod:`~agent_pipelines.live.detectors.thresholds` (settings),
:mod:`~agent_pipelines.live.detectors.seen`
(events already processed), :mod:`~agent_pipelines.live.detectors.rules` (the detectors themselves),
:mod:`~agent_pipelines.live.detectors.tool_windows` (tool calls counted in polars for a batch),
:mod:`~agent_pipelines.live.detectors.visits` (the rows the per-event pass must see),
:mod:`~agent_pipelines.live.detectors.columns` (what they read of an event); here,
:func:`detect` runs them and :func:`stuck_watch` digests the state for the sensor.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from agent_pipelines.live.detectors.columns import detector_frame
from agent_pipelines.live.detectors.rules import (
    MAX_FINGERPRINTS_LISTED,
    MAX_IDS_PER_ATTEMPT,
    MAX_TEMPLATE_MAP,
    RESTART_PROMPT_TYPES,
    SAMPLE_CHARS,
    Detectors,
    owes_a_step,
)
from agent_pipelines.live.detectors.seen import remember, unseen
from agent_pipelines.live.detectors.thresholds import Thresholds
from agent_pipelines.live.state import DetectorState


def stuck_watch(state: DetectorState, thresholds: Thresholds) -> dict[str, Any]:
    """A tiny digest for the sensor: when the next stuck check is due, and for which silence.

    ``due_ms`` is the earliest event time at which an open, not-yet-alerted session becomes
    stuck; the sensor compares it with the wall clock every tick without loading the state.
    """
    due: list[tuple[int, str, str]] = []
    for attempt_id, a in state.attempts.items():
        if owes_a_step(a) and a.last is not None and a.lid is not None:
            due.append((a.last + thresholds.stuck_ms, attempt_id, a.lid))
    due.sort()
    first = due[0] if due else None
    return {
        "generation": state.generation + 1,
        "open_sessions": sum(1 for a in state.attempts.values() if a.open),
        "due_ms": first[0] if first else None,
        "due_attempt": first[1] if first else None,
        "due_event": first[2] if first else None,
        "threshold_ms": thresholds.stuck_ms,
    }


def detect(
    events: pl.DataFrame,
    state: DetectorState,
    thresholds: Thresholds | None = None,
    now_ms: int | None = None,
) -> list[dict[str, Any]]:
    """Dedupe, run every detector, the live stuck check at ``now_ms`` (if given), prune; mutate ``state``."""
    thresholds = thresholds or Thresholds()
    fresh = unseen(events if events.is_empty() else detector_frame(events), state)
    detectors = Detectors(state, thresholds)
    detectors.process(fresh)
    if now_ms is not None:
        detectors.check_stuck(now_ms)
    remember(state, fresh, thresholds)
    detectors.prune()
    return detectors.alerts


__all__ = [
    "MAX_FINGERPRINTS_LISTED",
    "MAX_IDS_PER_ATTEMPT",
    "MAX_TEMPLATE_MAP",
    "RESTART_PROMPT_TYPES",
    "SAMPLE_CHARS",
    "Detectors",
    "Thresholds",
    "detect",
    "remember",
    "stuck_watch",
    "unseen",
]
