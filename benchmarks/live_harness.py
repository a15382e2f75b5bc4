"""What the live benchmarks share: percentiles, incidents appended like an agent's, CPU burners, and
each alert's way to Telegram stage by stage from the Dagster instance.

``bench_live.py`` (one ``dagster dev``) and ``bench_scale.py`` (the daemon on SQLite and PostgreSQL)
measure the same things the same way by importing them from here.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent_pipelines.core.logger import AgentWorkLogger  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AlertWatcher(threading.Thread):
    """Polls agent-alerts.jsonl every 20 ms; records when each attempt's alert first appears."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.seen: dict[str, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        offset = 0
        while not self.stop.is_set():
            try:
                with open(self.path, "rb") as handle:
                    handle.seek(offset)
                    data = handle.read()
            except FileNotFoundError:
                data = b""
            cut = data.rfind(b"\n") + 1
            now = time.monotonic()
            for line in data[:cut].splitlines():
                alert = json.loads(line)
                self.seen.setdefault(alert["attempt_id"], now)
            offset += cut
            time.sleep(0.02)


def write_incident(logs: Path, attempt: str) -> float:
    """An error loop: session start + 4 errors, the 4th appended last. Returns its append time."""
    log = AgentWorkLogger(logs, enabled=True)
    log.start_session(attempt, executor="CODEX", task_id=f"task-{attempt}")
    for i in range(4):  # distinct lines: identical lines in the same millisecond are one event
        message = f"npm ERR! network request failed, reason: ETIMEDOUT after {30 + i}s"
        log.error(attempt, message, "npm_install_timeout")
    return time.monotonic()


def start_burners(n: int) -> list[subprocess.Popen]:
    """``n`` processes spinning a CPU each: "both cores busy" for the loaded measurement."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


# The stages of one alert, in order (per incident: the detector run that wrote its alert).
STAGES = (
    ("append → run created", "created"),
    ("run created → its process started", "process"),
    ("process started → first op started", "first_op"),
    ("first op started → alert in the file", "ops"),
    ("alert in the file → Telegram", "telegram"),
)


def _run_times(instance: Any, run_id: str) -> dict[str, float]:
    """Wall-clock moments of one run, from its event log."""
    from dagster import DagsterEventType

    times: dict[str, float] = {}
    for entry in instance.all_logs(run_id):
        kind = entry.dagster_event.event_type if entry.dagster_event else None
        if kind == DagsterEventType.ENGINE_EVENT and "process" not in times:
            times["process"] = entry.timestamp  # "Started process for run (pid ...)"
        elif kind == DagsterEventType.STEP_START and "first_op" not in times:
            times["first_op"] = entry.timestamp
        elif kind == DagsterEventType.RUN_SUCCESS:
            times["end"] = entry.timestamp
    return times


def _instance_stats(
    home: Path, appended: dict[str, float], in_file: dict[str, float], at_telegram: dict[str, float]
) -> dict:
    """Tick gaps of our sensor, and each incident's way to Telegram stage by stage, from the instance
    itself (every time wall-clock)."""
    import dagster as dg
    from dagster._core.scheduler.instigation import InstigatorType

    os.environ["DAGSTER_HOME"] = str(home)
    with dg.DagsterInstance.get() as instance:
        states = [
            s
            for s in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR)
            if s.instigator_name == "live_alerts_sensor"
        ]
        ticks = instance.get_ticks(states[0].instigator_origin_id, states[0].selector_id, limit=2000)
        times = sorted(t.timestamp for t in ticks)
        gaps = [b - a for a, b in itertools.pairwise(times)]
        watched = sum(t.end_timestamp - t.timestamp for t in ticks if t.end_timestamp)
        span = max(t.end_timestamp or t.timestamp for t in ticks) - min(times)
        records = instance.get_run_records(filters=dg.RunsFilter(job_name="live_detector_job"), limit=500)
        runs = []
        for record in records:
            if record.start_time and record.end_time:
                created = record.create_timestamp.timestamp()
                runs.append({"id": record.dagster_run.run_id, "created": created,
                             "start": record.start_time, "end": record.end_time})  # fmt: skip
        runs.sort(key=lambda r: r["start"])
        stages: dict[str, list[float]] = {key: [] for _, key in STAGES}
        for attempt, appended_at in appended.items():
            seen = in_file.get(attempt)
            if seen is None:
                continue
            # One detector run at a time: the alert was written by the last run started before it showed.
            run = next((r for r in reversed(runs) if r["start"] <= seen), None)
            if run is None:
                continue
            moments = {"created": run["created"], **_run_times(instance, run["id"])}
            if "process" not in moments or "first_op" not in moments:
                continue
            # A run created before the append (already on its way) read the lines anyway: 0 s waited.
            stages["created"].append(max(0.0, moments["created"] - appended_at))
            stages["process"].append(moments["process"] - max(moments["created"], appended_at))
            stages["first_op"].append(moments["first_op"] - moments["process"])
            stages["ops"].append(seen - max(moments["first_op"], appended_at))
            if attempt in at_telegram:
                stages["telegram"].append(at_telegram[attempt] - seen)
    result = {
        "ticks": len(times),
        "tick_gap_p50": pct(gaps, 0.5),
        "tick_gap_p95": pct(gaps, 0.95),
        "tick_gap_max": max(gaps),
        "watched": watched / span if span > 0 else 0.0,
        "runs": len(runs),
        "create_to_start_p50": pct([r["start"] - r["created"] for r in runs], 0.5),
        "run_p50": pct([r["end"] - r["start"] for r in runs], 0.5),
    }
    for _, key in STAGES:
        values = stages[key]
        result[f"stage_{key}_n"] = len(values)
        result[f"stage_{key}_p50"] = pct(values, 0.5) if values else float("nan")
        result[f"stage_{key}_p95"] = pct(values, 0.95) if values else float("nan")
    return result
