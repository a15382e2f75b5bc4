"""Live failure risk: score open sessions as their events arrive, for the live detector job.

Why its own state: the detector job sees only the lines appended since its last run, while a risk
score needs everything an attempt has done so far. :class:`LiveRisk` keeps one
:class:`~agent_pipelines.predict.features.Prefix` per open attempt (a few counters each) in
``models/live-risk.pkl`` under the data folder, feeds it the new events, and reports an attempt
once when its risk first goes above the threshold: a :class:`Finding` the job turns into an
advisory ``predicted_failure`` alert (event time: the event that tipped it). An attempt's state is
dropped when it ends or after :data:`IDLE_DROP_MS` of event time without news.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from agent_pipelines.core.atomic import atomic_write
from agent_pipelines.predict import store
from agent_pipelines.predict.features import Prefix, event_rows
from agent_pipelines.predict.feed import feed
from agent_pipelines.predict.risk import RiskModel

MODEL_NAME = "failure_risk"
STATE_FILE = "live-risk.pkl"
IDLE_DROP_MS = 24 * 3600 * 1000
MIN_EVENTS = 3  # no score before an attempt has shown this much
TOP_OPEN = 20  # open sessions explained in words on the UI's page


@dataclass
class Finding:
    attempt_id: str
    task_id: str | None
    executor: str | None
    at_ms: int
    risk: float
    reasons: list[str]
    model_version: str


@dataclass
class LiveRisk:
    prefixes: dict[str, Prefix] = field(default_factory=dict)
    alerted: set[str] = field(default_factory=set)


def load_state(data_dir: Path) -> LiveRisk:
    try:
        state = pickle.loads((store.model_dir(data_dir, MODEL_NAME) / STATE_FILE).read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError):
        return LiveRisk()
    return state if isinstance(state, LiveRisk) else LiveRisk()


def save_state(data_dir: Path, state: LiveRisk) -> None:
    folder = store.model_dir(data_dir, MODEL_NAME)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / STATE_FILE, pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))


def update(
    state: LiveRisk, events: pl.DataFrame, model: RiskModel | None, threshold: float, version: str = ""
) -> list[Finding]:
    """Feed new events; return the attempts whose risk crossed ``threshold`` with this batch."""
    if events.is_empty():
        return []
    touched, ended, newest = feed(state.prefixes, events)
    findings: list[Finding] = []
    if model is not None and threshold < 1.0:
        candidates = [a for a in touched if a not in ended and a not in state.alerted
                      and state.prefixes[a].events >= MIN_EVENTS]  # fmt: skip
        if candidates:
            frame = pl.DataFrame([state.prefixes[a].features() for a in candidates])
            for attempt, risk in zip(candidates, model.score(frame), strict=True):
                if risk > threshold:
                    prefix = state.prefixes[attempt]
                    state.alerted.add(attempt)
                    reasons = model.reasons(prefix.features())
                    at = touched[attempt]
                    findings.append(
                        Finding(attempt, prefix.task_id, prefix.executor, at, float(risk), reasons, version)
                    )
    for attempt in ended:
        state.prefixes.pop(attempt, None)
        state.alerted.discard(attempt)
    for attempt in [a for a, p in state.prefixes.items() if newest - p.last_ms > IDLE_DROP_MS]:
        del state.prefixes[attempt]
        state.alerted.discard(attempt)
    return findings


def open_risks(state: LiveRisk, model: RiskModel | None, top: int = TOP_OPEN) -> pl.DataFrame:
    """The current risk of every open attempt (for the UI), riskiest first: attempt, executor,
    minutes, events, errors, risk, and for the ``top`` riskiest the reasons in words (the rest
    empty: explaining every open session on every run would cost more than the page is worth)."""
    if model is None or not state.prefixes:
        return pl.DataFrame(
            schema={"attempt_id": pl.String, "executor": pl.String, "risk": pl.Float64, "reasons": pl.String}
        )
    features = [p.features() for p in state.prefixes.values()]
    frame = pl.DataFrame(features)
    scored = (
        frame.select("attempt_id", "executor", "minutes", "events", "errors")
        .with_columns(risk=pl.Series(model.score(frame)).round(3), minutes=pl.col("minutes").round(1))
        .sort("risk", descending=True)
    )
    by_id = {f["attempt_id"]: f for f in features}
    reasons = [
        "; ".join(model.reasons(by_id[a])) if i < top else "" for i, a in enumerate(scored["attempt_id"])
    ]
    return scored.with_columns(reasons=pl.Series(reasons, dtype=pl.String))


def replay(
    events: pl.DataFrame, model: RiskModel, thresholds: tuple[float, ...], every_s: float = 30.0
) -> dict[float, dict[str, int]]:
    """Feed ``events`` in windows of ``every_s`` seconds of event time, as the live sensor reads
    them, scoring the attempts each window touched (as :func:`update` does); per threshold, the
    attempts whose risk went above it and when (for evaluations and tests)."""
    prefixes: dict[str, Prefix] = {}
    flagged: dict[float, dict[str, int]] = {t: {} for t in thresholds}
    rows = event_rows(events).sort("timestamp", maintain_order=True)
    window = (rows["timestamp"].dt.epoch("ms") // int(every_s * 1000)).to_list()
    touched: dict[str, int] = {}
    ended: set[str] = set()

    def score() -> None:
        live = [a for a in touched if a not in ended and prefixes[a].events >= MIN_EVENTS]
        if live:
            risks = model.score(pl.DataFrame([prefixes[a].features() for a in live]))
            for attempt, r in zip(live, risks, strict=True):
                for t in thresholds:
                    if r > t and attempt not in flagged[t]:
                        flagged[t][attempt] = touched[attempt]
        touched.clear()
        ended.clear()

    current = window[0] if window else 0
    for w, row in zip(window, rows.iter_rows(named=True), strict=True):
        if w != current:
            score()
            current = w
        attempt = str(row["attempt_id"])
        if row["event_type"] == "session_end":
            ended.add(attempt)
            prefixes.pop(attempt, None)
            touched.pop(attempt, None)
            continue
        prefix = prefixes.setdefault(attempt, Prefix(attempt))
        before = prefix.events
        prefix.add(row)
        if prefix.events != before:
            touched[attempt] = int(row["timestamp"].timestamp() * 1000)
    score()
    return flagged


def run(
    data_dir: Path, events: pl.DataFrame, threshold: float
) -> tuple[list[Finding], pl.DataFrame, LiveRisk]:
    """One detector batch: load the latest model and the state, update it; the findings, the risk
    of every session still open (:func:`open_risks`, for the run's page) and the new state, which
    the caller saves (:func:`save_state`) once the batch is committed, so a batch read again after
    a failed run is not counted twice."""
    loaded = store.load_latest(data_dir, MODEL_NAME)
    model, info = loaded if loaded else (None, {})
    state = load_state(data_dir)
    findings = update(state, events, model, threshold, str(info.get("version", "")))
    return findings, open_risks(state, model), state


def finding_fields(finding: Finding) -> dict[str, Any]:
    """The alert's own fields (after the common ones)."""
    return {
        "risk": round(finding.risk, 3),
        "reasons": finding.reasons,
        "model_version": finding.model_version,
    }
